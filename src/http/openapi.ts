import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** A parsed OpenAPI 3.0.3 document (kept loosely typed: it is data, read by openapi-backend). */
export type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string };
  servers?: Array<{ url: string; variables?: Record<string, { default: string }> }>;
  paths: Record<string, Record<string, any>>;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> } & Record<string, any>;
  security?: Array<Record<string, string[]>>;
} & Record<string, any>;

const cache = new Map<string, OpenApiDocument>();

/** Reads a document once per process; callers get a deep copy they may hand to openapi-backend. */
export function loadDocument(path: string): OpenApiDocument {
  let doc = cache.get(path);
  if (!doc) {
    doc = parseYaml(readFileSync(path, 'utf8')) as OpenApiDocument;
    if (!doc || !String(doc.openapi).startsWith('3.0')) throw new Error(`${path} is not an OpenAPI 3.0 document`);
    cache.set(path, doc);
  }
  return structuredClone(doc);
}

/**
 * The base path an API is mounted at, from `servers[0].url` with the `{apiRoot}` variable
 * removed: `{apiRoot}/quality-on-demand/v1` → `/quality-on-demand/v1` (CAMARA Design Guide §7).
 */
export function basePathOf(doc: OpenApiDocument): string {
  const url = doc.servers?.[0]?.url ?? '/';
  const path = url.replace(/^\{apiRoot\}/, '').replace(/^[a-z]+:\/\/[^/]+/i, '');
  return ('/' + path.replace(/^\/+/, '')).replace(/\/+$/, '') || '/';
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Every `(method, path, operation)` of a document. */
export function operationsOf(doc: OpenApiDocument): Array<{ method: string; path: string; operation: Record<string, any> }> {
  const out: Array<{ method: string; path: string; operation: Record<string, any> }> = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) if (item?.[method]) out.push({ method, path, operation: item[method] });
  }
  return out;
}

/** The scopes named by a document's `openId` security requirements (CAMARA `api-name:resource:action`). */
export function scopesOf(doc: OpenApiDocument, scheme = 'openId'): string[] {
  const scopes = new Set<string>();
  const collect = (reqs?: Array<Record<string, string[]>>) => reqs?.forEach((r) => r[scheme]?.forEach((s) => scopes.add(s)));
  collect(doc.security);
  for (const { operation } of operationsOf(doc)) collect(operation.security);
  return [...scopes].sort();
}
