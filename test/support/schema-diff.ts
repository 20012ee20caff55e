/**
 * Compares an OpenAPI 3.0 document of ours with the standard's document it implements (a CAMARA
 * anchor, for instance) by meaning, not by spelling, and lists every difference that matters to
 * a client: operations, operationIds, security scopes, parameters, request bodies, response
 * statuses, response bodies and headers, error codes per status, callbacks and security schemes.
 *
 * Schemas are normalised before they are compared:
 * - local `$ref`s are resolved (external ones are refused: documents must be self-contained);
 * - annotations are dropped: `description`, `summary`, `example(s)`, `title`, `externalDocs`, `tags`;
 * - `allOf` is merged into one schema wherever the merge is exact (union of properties and
 *   `required`, intersection of `enum`, the tighter of two bounds), so a flattened schema equals
 *   the composition it flattens;
 * - an OpenAPI `discriminator` is read as what it means: inheritance (a base whose `mapping`
 *   names subtypes that `allOf` it) becomes `oneOf` over the subtypes, and every branch of a
 *   `oneOf`/`anyOf` it maps is narrowed to its discriminator value. A polymorphic base and an
 *   explicit `oneOf` of closed subtypes therefore compare equal.
 *
 * The result is a list of readable lines; an empty list means the documents conform.
 */

type Json = any;
type Schema = Record<string, Json>;
type Doc = Record<string, Json>;

const ANNOTATIONS = new Set(['description', 'summary', 'example', 'examples', 'title', 'externalDocs', 'tags']);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
const LOWER_BOUNDS = new Set(['minimum', 'minLength', 'minItems', 'minProperties']);
const UPPER_BOUNDS = new Set(['maximum', 'maxLength', 'maxItems', 'maxProperties']);

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
}

function show(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}

/** The node a local `$ref` (`#/components/...`, or a bare schema name in a discriminator mapping) points to. */
export function resolvePointer(doc: Doc, ref: string): Json {
  const pointer = ref.startsWith('#/') ? ref : /^[\w.-]+$/.test(ref) ? `#/components/schemas/${ref}` : undefined;
  if (!pointer) throw new Error(`only local $refs are supported, got ${ref}`);
  const target = pointer
    .slice(2)
    .split('/')
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<Json>((node, key) => (isObject(node) || Array.isArray(node) ? (node as Json)[key] : undefined), doc);
  if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
  return target;
}

/** Follows `$ref`s until a node that is not a reference (parameters, responses, request bodies, headers). */
export function deref(doc: Doc, node: Json): Json {
  let n = node;
  for (let hops = 0; isObject(n) && typeof n.$ref === 'string'; hops++) {
    if (hops > 32) throw new Error(`$ref loop at ${node.$ref}`);
    n = resolvePointer(doc, n.$ref);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

interface NormContext {
  doc: Doc;
  /** `$ref`s being expanded, to cut true recursion. */
  stack: string[];
  /** Bases whose discriminator is being expanded: inside their subtypes they are plain schemas. */
  hidden: Set<object>;
}

/** Merges two normalised schemas that must both hold; undefined when no single schema says exactly that. */
function merge(a: Schema, b: Schema): Schema | undefined {
  if (Object.keys(b).length === 0) return a;
  if (Object.keys(a).length === 0) return b;
  // A closed schema rejects the properties another member adds: keep such an allOf as it is.
  const closes = (x: Schema, y: Schema) =>
    x.additionalProperties !== undefined && x.additionalProperties !== true && Object.keys(y.properties ?? {}).some((n) => !(n in (x.properties ?? {})));
  if (closes(a, b) || closes(b, a)) return undefined;
  const out: Schema = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (!(key in out)) {
      out[key] = value;
      continue;
    }
    const current = out[key];
    if (key === 'properties') {
      const props: Schema = { ...current };
      for (const [name, schema] of Object.entries<Schema>(value)) {
        if (!(name in props)) props[name] = schema;
        else {
          const merged = merge(props[name], schema);
          if (!merged) return undefined;
          props[name] = merged;
        }
      }
      out.properties = props;
    } else if (key === 'required') {
      out.required = [...new Set([...current, ...value])].sort();
    } else if (key === 'enum') {
      out.enum = (current as Json[]).filter((x) => (value as Json[]).some((y) => deepEqual(x, y)));
    } else if (key === 'items' && isObject(current) && isObject(value)) {
      const merged = merge(current, value);
      if (!merged) return undefined;
      out.items = merged;
    } else if (LOWER_BOUNDS.has(key)) {
      out[key] = Math.max(current, value);
    } else if (UPPER_BOUNDS.has(key)) {
      out[key] = Math.min(current, value);
    } else if (!deepEqual(current, value)) {
      return undefined;
    }
  }
  return out;
}

/** Restricts a schema to the subtype a discriminator value selects. */
function narrow(schema: Schema, property: string, value: string): Schema {
  const restricted = merge(schema, { properties: { [property]: { enum: [value] } } });
  return restricted ?? { allOf: [schema, { properties: { [property]: { enum: [value] } } }] };
}

function normalise(node: Json, ctx: NormContext): Json {
  if (!isObject(node)) return node;
  if (typeof node.$ref === 'string') {
    const target = resolvePointer(ctx.doc, node.$ref);
    const key = `${node.$ref}${ctx.hidden.has(target) ? ' (as base)' : ''}`;
    if (ctx.stack.includes(key)) return { $recursive: node.$ref.split('/').pop() };
    return normalise(target, { ...ctx, stack: [...ctx.stack, key] });
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (ANNOTATIONS.has(key)) continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries<Json>(value).map(([name, s]) => [name, normalise(s, ctx)]));
    } else if (key === 'items' || key === 'not' || (key === 'additionalProperties' && isObject(value))) {
      out[key] = normalise(value, ctx);
    } else if (key === 'allOf' || key === 'oneOf' || key === 'anyOf') {
      out[key] = (value as Json[]).map((s) => normalise(s, ctx));
    } else if (key === 'required') {
      out.required = [...new Set(value as string[])].sort();
    } else if (key === 'discriminator') {
      if (!ctx.hidden.has(node)) out.discriminator = value;
    } else {
      out[key] = structuredClone(value);
    }
  }

  let schema = out;
  if (schema.allOf) {
    const { allOf, ...rest } = schema;
    let merged: Schema = rest;
    const unmerged: Schema[] = [];
    for (const member of allOf as Schema[]) {
      const m = isObject(member) ? merge(merged, member) : undefined;
      if (m) merged = m;
      else unmerged.push(member);
    }
    if (unmerged.length) merged.allOf = unmerged;
    schema = merged;
  }

  const discriminator = schema.discriminator;
  if (isObject(discriminator) && typeof discriminator.propertyName === 'string') {
    const property = discriminator.propertyName;
    const mapping: Record<string, string> = discriminator.mapping ?? {};
    const valueOf = (branch: Json) => {
      const target = isObject(branch) && typeof branch.$ref === 'string' ? resolvePointer(ctx.doc, branch.$ref) : branch;
      return Object.entries(mapping).find(([, ref]) => resolvePointer(ctx.doc, ref) === target)?.[0];
    };
    const branchesKey = node.oneOf ? 'oneOf' : node.anyOf ? 'anyOf' : undefined;
    if (branchesKey && Array.isArray(schema[branchesKey])) {
      schema[branchesKey] = (node[branchesKey] as Json[]).map((raw, i) => {
        const value = valueOf(raw);
        return value === undefined ? schema[branchesKey][i] : narrow(schema[branchesKey][i], property, value);
      });
      delete schema.discriminator;
    } else if (Object.keys(mapping).length > 0) {
      const inner = { ...ctx, hidden: new Set([...ctx.hidden, node]) };
      return { oneOf: Object.entries(mapping).map(([value, ref]) => narrow(normalise({ $ref: ref.startsWith('#/') ? ref : `#/components/schemas/${ref}` }, inner), property, value)) };
    }
  }
  return schema;
}

/** A schema of `doc` in normal form (see the module comment). */
export function normaliseSchema(doc: Doc, schema: Json): Json {
  return normalise(schema, { doc, stack: [], hidden: new Set() });
}

// ---------------------------------------------------------------------------------------------
// Schema comparison

export interface SchemaDiffOptions {
  /**
   * Ours may close an object (`additionalProperties: false`) that the anchor leaves open. Use it
   * for request bodies of an API whose standard mandates rejecting undeclared properties.
   */
  allowClosedObjects?: boolean;
}

function diffSets(what: string, ours: Json[], theirs: Json[], path: string, out: string[]): void {
  const missing = theirs.filter((x) => !ours.some((y) => deepEqual(x, y)));
  const extra = ours.filter((x) => !theirs.some((y) => deepEqual(x, y)));
  if (missing.length) out.push(`${path}: ${what} lacks ${missing.map(show).join(', ')}`);
  if (extra.length) out.push(`${path}: ${what} adds ${extra.map(show).join(', ')}`);
}

function diffNormalised(ours: Json, theirs: Json, path: string, options: SchemaDiffOptions, out: string[]): void {
  if (!isObject(ours) || !isObject(theirs)) {
    if (!deepEqual(ours, theirs)) out.push(`${path}: ours is ${show(ours)}, the anchor ${show(theirs)}`);
    return;
  }
  for (const key of new Set([...Object.keys(theirs), ...Object.keys(ours)])) {
    const a = ours[key];
    const b = theirs[key];
    if (key === 'properties' && isObject(a) && isObject(b)) {
      for (const name of Object.keys(b)) if (!(name in a)) out.push(`${path}: property ${name} is missing`);
      for (const name of Object.keys(a)) if (!(name in b)) out.push(`${path}: property ${name} is not in the anchor`);
      for (const name of Object.keys(a)) if (name in b) diffNormalised(a[name], b[name], `${path}.${name}`, options, out);
    } else if ((key === 'required' || key === 'enum') && Array.isArray(a) && Array.isArray(b)) {
      diffSets(key, a, b, path, out);
    } else if (key === 'additionalProperties') {
      if (options.allowClosedObjects && a === false && b === undefined) continue;
      if (isObject(a) && isObject(b)) diffNormalised(a, b, `${path}{*}`, options, out);
      else if (!deepEqual(a, b)) out.push(`${path}: additionalProperties is ${show(a)} in ours, ${show(b)} in the anchor`);
    } else if ((key === 'items' || key === 'not') && isObject(a) && isObject(b)) {
      diffNormalised(a, b, key === 'items' ? `${path}[]` : `${path}.not`, options, out);
    } else if ((key === 'oneOf' || key === 'anyOf' || key === 'allOf') && Array.isArray(a) && Array.isArray(b)) {
      diffBranches(key, a, b, path, options, out);
    } else if (!deepEqual(a, b)) {
      out.push(`${path}: ${key} is ${show(a)} in ours, ${show(b)} in the anchor`);
    }
  }
}

/** Branches of oneOf/anyOf/allOf are matched regardless of order; unmatched ones are compared in order. */
function diffBranches(key: string, ours: Json[], theirs: Json[], path: string, options: SchemaDiffOptions, out: string[]): void {
  const unusedOurs = ours.map((_, i) => i);
  const unmatchedTheirs: number[] = [];
  theirs.forEach((t, j) => {
    const i = unusedOurs.find((k) => {
      const probe: string[] = [];
      diffNormalised(ours[k], t, '', options, probe);
      return probe.length === 0;
    });
    if (i === undefined) unmatchedTheirs.push(j);
    else unusedOurs.splice(unusedOurs.indexOf(i), 1);
  });
  unmatchedTheirs.forEach((j, n) => {
    const i = unusedOurs[n];
    if (i === undefined) out.push(`${path}.${key}[${j}]: branch is missing ${show(theirs[j])}`);
    else diffNormalised(ours[i], theirs[j], `${path}.${key}[${j}]`, options, out);
  });
  for (const i of unusedOurs.slice(unmatchedTheirs.length)) out.push(`${path}.${key}: ours adds branch ${show(ours[i])}`);
}

/** Differences between a schema of ours and one of the anchor, each read in its own document. */
export function diffSchemas(ours: { doc: Doc; schema: Json }, theirs: { doc: Doc; schema: Json }, path = '', options: SchemaDiffOptions = {}): string[] {
  const out: string[] = [];
  diffNormalised(normaliseSchema(ours.doc, ours.schema), normaliseSchema(theirs.doc, theirs.schema), path || '(schema)', options, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Document comparison

export interface OperationInfo {
  method: string;
  path: string;
  operationId?: string;
  hasRequestBody: boolean;
}

export interface ConformanceAllowance {
  /** Request bodies of our operations may close objects the anchor leaves open (request-body strictness). */
  strictRequestBodies?: boolean;
  /**
   * Error responses ours may document although the anchor does not, per operation: status → the
   * error codes its ErrorInfo must list. They are checked against the anchor's ErrorInfo.
   */
  extraResponses?: (op: OperationInfo) => Record<string, string[]>;
  /** Error codes ours may add to a status the anchor documents: operationId → status → codes. */
  extraErrorCodes?: Record<string, Record<string, string[]>>;
  /**
   * Optional parameters ours may add, per operation, as `"<in> <name>"` (header names in lower
   * case), e.g. `"header idempotency-key"`. An added parameter must not be required.
   */
  extraParameters?: (op: OperationInfo) => string[];
}

interface Side {
  doc: Doc;
  op: Schema;
  item: Schema;
}

const errorCodesOf = (schema: Json): Json[] | undefined => (isObject(schema) ? schema.properties?.code?.enum : undefined);

function withoutErrorCodes(schema: Json): Json {
  if (!errorCodesOf(schema)) return schema;
  const copy = structuredClone(schema);
  delete copy.properties.code.enum;
  return copy;
}

function securityOf(doc: Doc, op: Schema): string[] {
  const requirements: Array<Record<string, string[]>> = op.security ?? doc.security ?? [];
  return requirements
    .map((r) =>
      Object.entries(r)
        .map(([scheme, scopes]) => `${scheme}[${[...scopes].sort().join(' ')}]`)
        .sort()
        .join(' + ') || '(anonymous)',
    )
    .sort();
}

function parametersOf(side: Side): Map<string, Schema> {
  const params = new Map<string, Schema>();
  for (const p of [...(side.item.parameters ?? []), ...(side.op.parameters ?? [])]) {
    const param = deref(side.doc, p);
    params.set(`${param.in} ${param.in === 'header' ? String(param.name).toLowerCase() : param.name}`, param);
  }
  return params;
}

function stripAnnotations(node: Schema, skip: string[] = []): Schema {
  return Object.fromEntries(Object.entries(node).filter(([k]) => !ANNOTATIONS.has(k) && !skip.includes(k)));
}

function diffHeaders(ours: Side, theirs: Side, oursHeaders: Schema = {}, theirsHeaders: Schema = {}, where: string, out: string[]): void {
  const lower = (h: Schema) => new Map(Object.entries(h).map(([name, v]) => [name.toLowerCase(), v]));
  const a = lower(oursHeaders);
  const b = lower(theirsHeaders);
  for (const name of b.keys()) if (!a.has(name)) out.push(`${where}: header ${name} is missing`);
  for (const name of a.keys()) if (!b.has(name)) out.push(`${where}: header ${name} is not in the anchor`);
  for (const [name, h] of a) {
    if (!b.has(name)) continue;
    const ha = deref(ours.doc, h);
    const hb = deref(theirs.doc, b.get(name));
    if (!deepEqual(stripAnnotations(ha, ['schema']), stripAnnotations(hb, ['schema']))) out.push(`${where}: header ${name} differs: ${show(stripAnnotations(ha, ['schema']))} vs ${show(stripAnnotations(hb, ['schema']))}`);
    out.push(...diffSchemas({ doc: ours.doc, schema: ha.schema }, { doc: theirs.doc, schema: hb.schema }, `${where} header ${name}`));
  }
}

function diffOperation(ours: Side, theirs: Side, label: string, info: OperationInfo, inbound: boolean, allowance: ConformanceAllowance, out: string[]): void {
  if (ours.op.operationId !== theirs.op.operationId) out.push(`${label}: operationId is ${show(ours.op.operationId)}, the anchor has ${show(theirs.op.operationId)}`);
  const id = theirs.op.operationId ?? label;

  diffSets('security', securityOf(ours.doc, ours.op), securityOf(theirs.doc, theirs.op), `${label}`, out);

  // Parameters
  const pa = parametersOf(ours);
  const pb = parametersOf(theirs);
  for (const key of pb.keys()) if (!pa.has(key)) out.push(`${label}: parameter ${key} is missing`);
  const extraParameters = inbound ? (allowance.extraParameters?.(info) ?? []) : [];
  for (const [key, a] of pa) {
    if (pb.has(key)) continue;
    if (!extraParameters.includes(key)) out.push(`${label}: parameter ${key} is not in the anchor`);
    else if (a.required) out.push(`${label}: added parameter ${key} must be optional`);
  }
  for (const [key, a] of pa) {
    const b = pb.get(key);
    if (!b) continue;
    const fa = { required: false, ...stripAnnotations(a, ['schema', 'name']) };
    const fb = { required: false, ...stripAnnotations(b, ['schema', 'name']) };
    if (!deepEqual(fa, fb)) out.push(`${label}: parameter ${key} is ${show(fa)} in ours, ${show(fb)} in the anchor`);
    out.push(...diffSchemas({ doc: ours.doc, schema: a.schema }, { doc: theirs.doc, schema: b.schema }, `${label} parameter ${key}`));
  }

  // Request body
  const ba = ours.op.requestBody ? deref(ours.doc, ours.op.requestBody) : undefined;
  const bb = theirs.op.requestBody ? deref(theirs.doc, theirs.op.requestBody) : undefined;
  if (!!ba !== !!bb) out.push(`${label}: request body is ${ba ? 'present' : 'absent'} in ours, ${bb ? 'present' : 'absent'} in the anchor`);
  if (ba && bb) {
    if (!!ba.required !== !!bb.required) out.push(`${label}: request body required is ${!!ba.required} in ours, ${!!bb.required} in the anchor`);
    const ca = ba.content ?? {};
    const cb = bb.content ?? {};
    diffSets('request media types', Object.keys(ca), Object.keys(cb), label, out);
    for (const type of Object.keys(ca)) {
      if (!(type in cb)) continue;
      out.push(
        ...diffSchemas({ doc: ours.doc, schema: ca[type].schema }, { doc: theirs.doc, schema: cb[type].schema }, `${label} request ${type} body`, {
          allowClosedObjects: inbound && !!allowance.strictRequestBodies,
        }),
      );
    }
  }

  // Responses
  const ra: Schema = ours.op.responses ?? {};
  const rb: Schema = theirs.op.responses ?? {};
  const extraResponses = inbound ? (allowance.extraResponses?.(info) ?? {}) : {};
  for (const status of Object.keys(rb)) if (!(status in ra)) out.push(`${label}: response ${status} is missing`);
  for (const status of Object.keys(ra)) {
    const where = `${label} ${status}`;
    const a = deref(ours.doc, ra[status]);
    if (!(status in rb)) {
      const codes = extraResponses[status];
      if (!codes) {
        out.push(`${label}: response ${status} is not in the anchor${inbound ? ' and not an allowed addition' : ''}`);
        continue;
      }
      const schema = a.content?.['application/json']?.schema;
      if (!schema) {
        out.push(`${where}: an added error response must have an application/json ErrorInfo body`);
        continue;
      }
      const errorInfo = theirs.doc.components?.schemas?.ErrorInfo;
      if (errorInfo) {
        const base = normaliseSchema(theirs.doc, errorInfo);
        const narrowed: Schema = { code: { enum: codes }, ...(base.properties?.status ? { status: { enum: [Number(status)] } } : {}) };
        const expected = merge(base, { properties: narrowed }) ?? base;
        diffNormalised(normaliseSchema(ours.doc, schema), expected, `${where} body (the anchor's ErrorInfo with code ${codes.join('|')})`, {}, out);
      } else {
        diffSets('error codes', errorCodesOf(normaliseSchema(ours.doc, schema)) ?? [], codes, where, out);
      }
      continue;
    }
    const b = deref(theirs.doc, rb[status]);
    diffHeaders(ours, theirs, a.headers, b.headers, where, out);
    const ca: Schema = a.content ?? {};
    const cb: Schema = b.content ?? {};
    diffSets('response media types', Object.keys(ca), Object.keys(cb), where, out);
    for (const type of Object.keys(ca)) {
      if (!(type in cb)) continue;
      const sa = normaliseSchema(ours.doc, ca[type].schema);
      const sb = normaliseSchema(theirs.doc, cb[type].schema);
      const codesA = errorCodesOf(sa);
      const codesB = errorCodesOf(sb);
      if (Number(status) >= 400 && (codesA || codesB)) {
        if (!codesA || !codesB) out.push(`${where}: error codes are ${show(codesA)} in ours, ${show(codesB)} in the anchor`);
        else {
          const allowed = allowance.extraErrorCodes?.[id]?.[status] ?? [];
          const missing = codesB.filter((c) => !codesA.includes(c));
          const extra = codesA.filter((c) => !codesB.includes(c));
          if (missing.length) out.push(`${where}: error codes lack ${missing.join(', ')}`);
          const forbidden = extra.filter((c) => !(inbound && allowed.includes(c)));
          if (forbidden.length) out.push(`${where}: error codes add ${forbidden.join(', ')}, which the allowance does not permit`);
        }
        diffNormalised(withoutErrorCodes(sa), withoutErrorCodes(sb), `${where} ${type} body`, {}, out);
      } else {
        diffNormalised(sa, sb, `${where} ${type} body`, {}, out);
      }
    }
  }

  // Callbacks (requests we send to the client, responses it answers): compared exactly.
  const cba: Schema = ours.op.callbacks ?? {};
  const cbb: Schema = theirs.op.callbacks ?? {};
  diffSets('callbacks', Object.keys(cba), Object.keys(cbb), label, out);
  for (const name of Object.keys(cba)) {
    if (!(name in cbb)) continue;
    const xa = deref(ours.doc, cba[name]);
    const xb = deref(theirs.doc, cbb[name]);
    diffSets(`callback ${name} expressions`, Object.keys(xa), Object.keys(xb), label, out);
    for (const expression of Object.keys(xa)) {
      if (!(expression in xb)) continue;
      const ia = deref(ours.doc, xa[expression]);
      const ib = deref(theirs.doc, xb[expression]);
      diffPathItem({ doc: ours.doc, item: ia }, { doc: theirs.doc, item: ib }, expression, `${id} callback ${name}: `, false, allowance, out);
    }
  }
}

function diffPathItem(ours: { doc: Doc; item: Schema }, theirs: { doc: Doc; item: Schema }, path: string, prefix: string, inbound: boolean, allowance: ConformanceAllowance, out: string[]): void {
  for (const method of METHODS) {
    const a = ours.item[method];
    const b = theirs.item[method];
    if (!a && !b) continue;
    const where = `${method.toUpperCase()} ${path}`;
    if (!a) out.push(`${prefix}${where}: operation ${b.operationId ?? ''} is missing`);
    else if (!b) out.push(`${prefix}${where}: operation ${a.operationId ?? ''} is not in the anchor`);
    else {
      const info: OperationInfo = { method, path, operationId: a.operationId, hasRequestBody: !!a.requestBody };
      const label = `${prefix}${b.operationId ? `${b.operationId} (${where})` : where}`;
      diffOperation({ doc: ours.doc, op: a, item: ours.item }, { doc: theirs.doc, op: b, item: theirs.item }, label, info, inbound, allowance, out);
    }
  }
}

/** Every difference between our document and the anchor it implements; [] when ours conforms. */
export function diffDocuments(ours: Doc, theirs: Doc, allowance: ConformanceAllowance = {}): string[] {
  const out: string[] = [];
  const pathsA: Schema = ours.paths ?? {};
  const pathsB: Schema = theirs.paths ?? {};
  for (const path of new Set([...Object.keys(pathsB), ...Object.keys(pathsA)])) {
    const a = pathsA[path] ? deref(ours, pathsA[path]) : {};
    const b = pathsB[path] ? deref(theirs, pathsB[path]) : {};
    diffPathItem({ doc: ours, item: a }, { doc: theirs, item: b }, path, '', true, allowance, out);
  }
  // Security schemes: kinds and token formats, not the provider-specific discovery URLs.
  const schemesA: Schema = ours.components?.securitySchemes ?? {};
  const schemesB: Schema = theirs.components?.securitySchemes ?? {};
  diffSets('security schemes', Object.keys(schemesA), Object.keys(schemesB), 'components', out);
  for (const name of Object.keys(schemesA)) {
    if (!(name in schemesB)) continue;
    const fa = stripAnnotations(deref(ours, schemesA[name]), ['openIdConnectUrl']);
    const fb = stripAnnotations(deref(theirs, schemesB[name]), ['openIdConnectUrl']);
    if (!deepEqual(fa, fb)) out.push(`security scheme ${name} is ${show(fa)} in ours, ${show(fb)} in the anchor`);
  }
  return out;
}
