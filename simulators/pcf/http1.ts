/** A small JSON client over HTTP/1.1 (node:http), for the bearer controller and HTTP/1.1 callbacks. */
import http from 'node:http';

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface JsonRequestOptions {
  agent?: http.Agent;
  /** @defaultValue 5000 */
  timeoutMs?: number;
  contentType?: string;
}

export function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sends `body` as JSON and reads the whole answer. Rejects on network errors and on the timeout. */
export function requestJson(method: string, url: string, body?: unknown, options: JsonRequestOptions = {}): Promise<JsonResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent: options.agent,
      headers: {
        accept: 'application/json, application/problem+json',
        ...(payload ? { 'content-type': options.contentType ?? 'application/json', 'content-length': payload.length } : {}),
      },
    });
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(Object.assign(new Error(`${method} ${url} timed out`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parseBody(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.end(payload);
  });
}
