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
  file: string;
  basePath: string;
  backend: OpenAPIBackend;
}

/** A response as a client received it. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

/** Probe endpoints: not part of any API document. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

let loading: Promise<Loaded[]> | undefined;

/** Every document in openapi/, each as an initialised openapi-backend, most specific base path first. */
export function documents(): Promise<Loaded[]> {
  loading ??= Promise.all(
    readdirSync(OPENAPI_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map(async (file) => {
        const definition = loadDocument(join(OPENAPI_DIR, file));
        const basePath = basePathOf(definition);
        const backend = new OpenAPIBackend({
          definition: definition as never,
          apiRoot: basePath === '/' ? '/' : basePath,
          strict: true,
          customizeAjv: (ajv) => {
            (addFormats as unknown as (a: typeof ajv) => void)(ajv);
            return ajv;
          },
        });
        await backend.init();
        return { file, basePath, backend };
      }),
  ).then((docs) => docs.sort((a, b) => b.basePath.length - a.basePath.length));
  return loading;
}

function errorInfoProblems(x: Exchange, body: any): string[] {
  const problems: string[] = [];
  if (!/^application\/json/.test(String(x.headers['content-type']))) problems.push('error response is not application/json');
  if (!body || typeof body !== 'object') return [...problems, `error body is not an object: ${x.text}`];
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'code,message,status') problems.push(`ErrorInfo must have exactly status, code, message: ${x.text}`);
  if (body.status !== x.status) problems.push(`ErrorInfo.status ${body.status} differs from HTTP ${x.status}`);
  if (!/^[A-Z0-9_.]+$/.test(String(body.code))) problems.push(`bad ErrorInfo.code ${body.code}`);
  if (typeof body.message !== 'string' || body.message.length > 512) problems.push('bad ErrorInfo.message');
  return problems;
}

/**
 * What is wrong with a response, judged by the document of the API it came from: the status code
 * must be one the operation documents (503 may come from any operation while Redis is away) and
 * the body must match that response's schema. A response to a path no operation serves must be a
 * CAMARA ErrorInfo. Every response echoes a valid x-correlator.
 */
export async function contractProblems(x: Exchange): Promise<string[]> {
  const where = `${x.method.toUpperCase()} ${x.path} → ${x.status}`;
  const problems: string[] = [];
  if (!X_CORRELATOR_PATTERN.test(String(x.headers['x-correlator'] ?? '')) || !x.headers['x-correlator']) problems.push('no valid x-correlator echoed');
  let body: unknown;
  try {
    body = x.text === '' ? undefined : JSON.parse(x.text);
  } catch {
    body = x.text;
  }
  const method = x.method.toLowerCase();
  for (const api of await documents()) {
    if (api.basePath !== '/' && x.path !== api.basePath && !x.path.startsWith(api.basePath + '/')) continue;
    let operation;
    try {
      operation = api.backend.router.matchOperation({ method, path: x.path, headers: {} } as never, true);
    } catch {
      continue;
    }
    const documented = Object.keys(operation.responses ?? {});
    if (!documented.includes(String(x.status))) {
      if (x.status === 503) problems.push(...errorInfoProblems(x, body));
      else problems.push(`${operation.operationId} does not document status ${x.status} (it documents ${documented.join(', ')})`);
      return problems.map((p) => `${where}: ${p}`);
    }
    const response = operation.responses![String(x.status)] as { content?: Record<string, unknown> };
    if (!response.content) {
      if (x.text !== '') problems.push(`${operation.operationId} documents no body for ${x.status} but sent one`);
      return problems.map((p) => `${where}: ${p}`);
    }
    const result = api.backend.validateResponse(body, operation, x.status);
    if (result.errors) problems.push(`${operation.operationId} body breaks ${api.file}: ${JSON.stringify(result.errors)} body=${x.text.slice(0, 500)}`);
    return problems.map((p) => `${where}: ${p}`);
  }
  if (x.status >= 400 && !PROBES.has(x.path)) problems.push(...errorInfoProblems(x, body));
  return problems.map((p) => `${where}: ${p}`);
}

function exchangeOf(res: Response): Exchange {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  return { method: req.method, path: new URL(req.path, 'http://x').pathname, status: res.status, headers: res.headers, text: res.text ?? '' };
}

/** Asserts a response conforms to its document (see {@link contractProblems}). */
export async function expectContract(res: Response): Promise<void> {
  const problems = await contractProblems(exchangeOf(res));
  assert.deepEqual(problems, [], problems.join('\n'));
}

/** Asserts status and CAMARA code of an error response, and that it conforms to the contract. */
export async function expectError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.text}`);
  assert.equal(res.body.code, code, `expected code ${code}, got ${res.text}`);
  await expectContract(res);
}
