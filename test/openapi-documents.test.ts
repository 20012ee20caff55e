import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { OPENAPI_DIR, documents } from './support/contract.ts';
import { loadDocument, operationsOf } from '../src/http/openapi.ts';
import { errorCodes } from '../src/http/errors.ts';
import { X_CORRELATOR_PATTERN } from '../src/http/middleware/x-correlator.ts';

const SHARED = process.env.SHARED_DIR ?? fileURLToPath(new URL('../../shared/', import.meta.url));
const ANCHOR_COMMON = join(SHARED, 'anchors/camara/CAMARA_common.yaml');

const files = readdirSync(OPENAPI_DIR).filter((f) => f.endsWith('.yaml'));
const OAUTH_DOCUMENT = 'oauth2.yaml';

/** Follows local `$ref`s. */
function resolve(doc: any, node: any): any {
  let n = node;
  while (n && typeof n.$ref === 'string') n = n.$ref.slice(2).split('/').reduce((o: any, k: string) => o?.[k], doc);
  return n;
}

/** Object schemas of request bodies must say whether unknown properties are allowed (CAMARA body strictness). */
function openObjects(doc: any, schema: any, path: string, out: string[], seen = new Set<any>()): void {
  const s = resolve(doc, schema);
  if (!s || typeof s !== 'object' || seen.has(s)) return;
  seen.add(s);
  if (s.properties && s.additionalProperties === undefined) out.push(path);
  for (const [k, v] of Object.entries(s.properties ?? {})) openObjects(doc, v, `${path}.${k}`, out, seen);
  for (const key of ['allOf', 'oneOf', 'anyOf']) for (const [i, v] of (s[key] ?? []).entries()) openObjects(doc, v, `${path}.${key}[${i}]`, out, seen);
  if (s.items) openObjects(doc, s.items, `${path}[]`, out, seen);
}

describe('our OpenAPI documents', () => {
  it('are OpenAPI 3.0.3 and load under openapi-backend strict mode', async () => {
    assert.ok(files.length >= 2);
    for (const f of files) assert.equal(loadDocument(join(OPENAPI_DIR, f)).openapi, '3.0.3', f);
    assert.equal((await documents()).length, files.length);
  });

  for (const f of files) {
    describe(f, () => {
      const doc = loadDocument(join(OPENAPI_DIR, f));
      const ops = operationsOf(doc);

      it('every operation has a unique operationId, the x-correlator header, and is either secured (documenting 401) or explicitly public', () => {
        const ids = ops.map((o) => o.operation.operationId);
        assert.equal(new Set(ids).size, ids.length);
        for (const { method, path, operation } of ops) {
          assert.ok(operation.operationId, `${method} ${path}`);
          const security = operation.security ?? doc.security;
          assert.ok(Array.isArray(security), `${operation.operationId} must state its security (security: [] when public)`);
          if (security.length > 0) assert.ok(operation.responses['401'], `${operation.operationId} does not document 401`);
          const params = [...(doc.paths[path].parameters ?? []), ...(operation.parameters ?? [])].map((p: any) => resolve(doc, p));
          assert.ok(params.some((p: any) => p.name === 'x-correlator' && p.in === 'header'), `${operation.operationId} lacks x-correlator`);
        }
      });

      it('request bodies are strict: every object schema declares additionalProperties', () => {
        const open: string[] = [];
        for (const { operation } of ops) {
          const body = resolve(doc, operation.requestBody);
          for (const [type, media] of Object.entries<any>(body?.content ?? {})) openObjects(doc, media.schema, `${operation.operationId}(${type})`, open);
        }
        assert.deepEqual(open, []);
      });

      // The OAuth document answers RFC 6749 errors, which OAuth clients expect; every other API answers CAMARA ErrorInfo.
      const [kind, required] = f === OAUTH_DOCUMENT ? ['an RFC 6749 error', ['error']] : ['a CAMARA ErrorInfo', ['code', 'message', 'status']];
      it(`every error response is ${kind}`, () => {
        for (const { operation } of ops) {
          for (const [status, response] of Object.entries<any>(operation.responses)) {
            if (Number(status) < 400) continue;
            const schema = resolve(doc, resolve(doc, response).content?.['application/json']?.schema);
            assert.deepEqual([...(schema?.required ?? [])].sort(), required, `${operation.operationId} ${status}`);
          }
        }
      });

      it('the x-correlator schema is the Commonalities pattern', () => {
        assert.equal(doc.components!.schemas.XCorrelator.pattern, X_CORRELATOR_PATTERN.source);
      });
    });
  }
});

describe('conformance with the CAMARA Commonalities anchor', function () {
  before(function () {
    if (!existsSync(ANCHOR_COMMON)) {
      console.log(`    skipped: ${ANCHOR_COMMON} is not present, so conformance with CAMARA_common.yaml cannot be checked here`);
      this.skip();
    }
  });

  const anchor = () => parseYaml(readFileSync(ANCHOR_COMMON, 'utf8'));

  it('our x-correlator pattern is the one Commonalities defines', () => {
    assert.equal(anchor().components.schemas.XCorrelator.pattern, X_CORRELATOR_PATTERN.source);
  });

  it('our ErrorInfo has the fields and limits of the Commonalities ErrorInfo', () => {
    const theirs = anchor().components.schemas.ErrorInfo;
    for (const f of files.filter((x) => x !== OAUTH_DOCUMENT)) {
      const ours = loadDocument(join(OPENAPI_DIR, f)).components!.schemas.ErrorInfo;
      assert.deepEqual([...ours.required].sort(), [...theirs.required].sort(), f);
      for (const field of ['status', 'code', 'message']) {
        assert.equal(ours.properties[field].type, theirs.properties[field].type, `${f} ${field}`);
        assert.equal(ours.properties[field].maxLength, theirs.properties[field].maxLength, `${f} ${field} maxLength`);
      }
    }
  });

  it('every generic error code keeps the HTTP status Commonalities gives it', () => {
    const responses = anchor().components.responses as Record<string, any>;
    let checked = 0;
    for (const [name, response] of Object.entries(responses)) {
      const parts = response.content?.['application/json']?.schema?.allOf?.[1]?.properties;
      if (!parts?.code?.enum) continue;
      const status = parts.status.enum[0];
      for (const code of parts.code.enum) {
        const ours = errorCodes().get(code);
        assert.ok(ours, `${name}: our catalog lacks ${code}`);
        assert.equal(ours.status, status, `${code} is ${status} in Commonalities`);
        checked++;
      }
    }
    assert.ok(checked >= 20, `checked ${checked} codes`);
  });
});
