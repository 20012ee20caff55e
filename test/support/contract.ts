import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { OpenAPIBackend } from 'openapi-backend';
import addFormats from 'ajv-formats';
import type { Response } from 'supertest';
import { basePathOf, loadDocument } from '../../src/http/openapi.ts';
import { X_CORRELATOR_PATTERN } from '../../src/http/middleware/x-correlator.ts';

export const OPENAPI_DIR = fileURLToPath(new URL('../../openapi/', import.meta.url));

interface Loaded {
  basePath: string;
  backend: OpenAPIBackend;
}

let loading: Promise<Loaded[]> | undefined;

/** Every document in openapi/, each as an initialised openapi-backend (used only to validate responses). */
export function documents(): Promise<Loaded[]> {
  loading ??= Promise.all(
    readdirSync(OPENAPI_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map(async (f) => {
        const definition = loadDocument(join(OPENAPI_DIR, f));
        const basePath = basePathOf(definition);
        const backend = new OpenAPIBackend({
          definition: definition as never,
          apiRoot: basePath,
          strict: true,
          customizeAjv: (ajv) => {
            (addFormats as unknown as (a: typeof ajv) => void)(ajv);
            return ajv;
          },
        });
        await backend.init();
        return { basePath, backend };
      }),
  );
  return loading;
}

function assertErrorInfo(res: Response): void {
  assert.match(String(res.headers['content-type']), /^application\/json/, 'error responses are application/json');
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'status'], `ErrorInfo has exactly status, code, message: ${res.text}`);
  assert.equal(res.body.status, res.status, 'ErrorInfo.status equals the HTTP status');
  assert.match(res.body.code, /^[A-Z0-9_.]+$/);
  assert.ok(typeof res.body.message === 'string' && res.body.message.length <= 512);
}

/**
 * Checks a response against the document of the API it came from: the status code is one the
 * operation documents, and the body matches that response's schema. Responses to paths no
 * operation serves (404, 405) must still be CAMARA ErrorInfo. Every response echoes x-correlator.
 */
export async function expectContract(res: Response): Promise<void> {
  const method = (res as unknown as { req: { method: string } }).req.method.toLowerCase();
  const path = new URL((res as unknown as { req: { path: string } }).req.path, 'http://x').pathname;
  assert.match(String(res.headers['x-correlator'] ?? ''), X_CORRELATOR_PATTERN, 'x-correlator is echoed');
  if (res.status >= 400) assertErrorInfo(res);
  const api = (await documents()).find((d) => path === d.basePath || path.startsWith(d.basePath + '/'));
  if (!api) return;
  let operation;
  try {
    operation = api.backend.router.matchOperation({ method, path, headers: {} } as never, true);
  } catch {
    assert.ok([404, 405, 413].includes(res.status), `${method} ${path} matches no operation yet answered ${res.status}`);
    return;
  }
  const documented = Object.keys(operation.responses ?? {});
  assert.ok(
    documented.includes(String(res.status)) || documented.includes('default') || res.status === 503,
    `${operation.operationId} does not document status ${res.status} (documents ${documented.join(', ')})`,
  );
  if (!documented.includes(String(res.status))) return;
  const body = res.text === '' ? undefined : res.body;
  const result = api.backend.validateResponse(body, operation, res.status);
  assert.ok(!result.errors, `${operation.operationId} ${res.status} body breaks the contract: ${JSON.stringify(result.errors)} body=${res.text}`);
}

/** Asserts status and CAMARA code of an error response, and that it conforms to the contract. */
export async function expectError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.text}`);
  assert.equal(res.body.code, code, `expected code ${code}, got ${res.text}`);
  await expectContract(res);
}
