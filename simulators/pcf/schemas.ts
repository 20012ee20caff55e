/**
 * Validation against the 3GPP OpenAPI documents themselves (TS 29.514 and the files it references),
 * compiled with Ajv. The files are OpenAPI 3.0 and reference each other by file name
 * (`TS29571_CommonData.yaml#/components/schemas/BitRate`), so each file is registered under its name.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** The root document; its `$ref` closure must be in the same folder. */
export const N5_DOCUMENT = 'TS29514_Npcf_PolicyAuthorization.yaml';
const COMMON_DOCUMENT = 'TS29571_CommonData.yaml';

/** Data types this simulator validates (requests) or its tests validate (responses, notifications). */
export const N5_SCHEMAS = {
  AppSessionContext: `${N5_DOCUMENT}#/components/schemas/AppSessionContext`,
  AppSessionContextUpdateDataPatch: `${N5_DOCUMENT}#/components/schemas/AppSessionContextUpdateDataPatch`,
  EventsSubscReqData: `${N5_DOCUMENT}#/components/schemas/EventsSubscReqData`,
  EventsSubscPutData: `${N5_DOCUMENT}#/components/schemas/EventsSubscPutData`,
  EventsNotification: `${N5_DOCUMENT}#/components/schemas/EventsNotification`,
  TerminationInfo: `${N5_DOCUMENT}#/components/schemas/TerminationInfo`,
  ExtendedProblemDetails: `${N5_DOCUMENT}#/components/schemas/ExtendedProblemDetails`,
  ProblemDetails: `${COMMON_DOCUMENT}#/components/schemas/ProblemDetails`,
} as const;

export type SchemaName = keyof typeof N5_SCHEMAS;

/** One thing wrong with a body, located by JSON pointer. */
export interface SchemaIssue {
  path: string;
  /** A required attribute is absent (rather than present and wrong). */
  missing: boolean;
  reason: string;
}

export interface AnchorSchemas {
  dir: string;
  validate(name: SchemaName, body: unknown): SchemaIssue[];
}

export type AnchorLoad = { ok: true; schemas: AnchorSchemas } | { ok: false; reason: string };

const cache = new Map<string, AnchorLoad>();

/** Loads (once per folder) the anchor documents, or says why they cannot be used. */
export function loadAnchorSchemas(dir: string | null): AnchorLoad {
  if (!dir) return { ok: false, reason: 'anchor validation disabled by configuration' };
  let loaded = cache.get(dir);
  if (!loaded) {
    loaded = load(dir);
    cache.set(dir, loaded);
  }
  return loaded;
}

function load(dir: string): AnchorLoad {
  if (!existsSync(join(dir, N5_DOCUMENT))) return { ok: false, reason: `${join(dir, N5_DOCUMENT)} not found` };
  try {
    // OpenAPI 3.0 keywords Ajv does not know (example, discriminator, x-*) are ignored; `nullable` is native.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as { components?: unknown };
      ajv.addSchema({ components: doc?.components ?? {} }, file);
    }
    const compiled = new Map<SchemaName, ValidateFunction>();
    for (const name of Object.keys(N5_SCHEMAS) as SchemaName[]) {
      const fn = ajv.getSchema(N5_SCHEMAS[name]);
      if (!fn) return { ok: false, reason: `${N5_SCHEMAS[name]} does not resolve` };
      compiled.set(name, fn);
    }
    return {
      ok: true,
      schemas: {
        dir,
        validate(name, body) {
          const fn = compiled.get(name)!;
          return fn(body) ? [] : issuesOf(fn.errors ?? []);
        },
      },
    };
  } catch (err) {
    return { ok: false, reason: `cannot compile the schemas in ${dir}: ${(err as Error).message}` };
  }
}

/**
 * Ajv errors → one issue per location. A `oneOf` of `required` branches (ueIpv4 | ueIpv6 | ueMac)
 * that no branch satisfies is one missing attribute, not three.
 */
function issuesOf(errors: ErrorObject[]): SchemaIssue[] {
  const byPath = new Map<string, SchemaIssue>();
  const add = (issue: SchemaIssue) => {
    const known = byPath.get(issue.path);
    if (!known || (issue.missing && !known.missing)) byPath.set(issue.path, issue);
  };
  for (const e of errors) {
    if (e.keyword === 'required' && /\/(oneOf|anyOf)\/\d+\/required$/.test(e.schemaPath)) continue;
    if (e.keyword === 'required') {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      add({ path: `${e.instancePath}/${prop}`, missing: true, reason: `${prop} is required` });
    } else if (e.keyword === 'oneOf' && (e.params as { passingSchemas: unknown }).passingSchemas === null) {
      const alternatives = errors
        .filter((o) => o.keyword === 'required' && o.instancePath === e.instancePath && o.schemaPath.startsWith(e.schemaPath + '/'))
        .map((o) => (o.params as { missingProperty: string }).missingProperty);
      if (alternatives.length) add({ path: `${e.instancePath}/${alternatives[0]}`, missing: true, reason: `one of ${alternatives.join(', ')} is required` });
      else add({ path: e.instancePath, missing: false, reason: 'matches none of the allowed forms' });
    } else if (e.keyword === 'oneOf') {
      add({ path: e.instancePath, missing: false, reason: 'matches more than one allowed form (e.g. both ueIpv4 and ueIpv6)' });
    } else {
      add({ path: e.instancePath || '/', missing: false, reason: e.message ?? e.keyword });
    }
  }
  return [...byPath.values()];
}
