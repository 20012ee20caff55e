import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { buildApi, type ApiResponse, type BackendRequest } from '../src/http/api-router.ts';
import type { RequestContext } from '../src/capabilities/types.ts';

const DOCUMENT = fileURLToPath(new URL('../openapi/echo.yaml', import.meta.url));

const request = (message: string): BackendRequest => ({
  method: 'POST',
  path: '/echo/v1/jobs',
  headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
  query: {},
  body: Buffer.from(JSON.stringify({ message })),
});

/** A response whose logger is made on first use, as RequestLocals does, and counted. */
function response(correlator: string) {
  let made = 0;
  const locals = {
    correlator,
    principal: { clientId: 'app' },
    get log() {
      made++;
      return { correlator } as unknown;
    },
  };
  return { res: { locals, setHeader: () => undefined } as unknown as ApiResponse, made: () => made };
}

describe('the context a handler gets', () => {
  async function contexts(n: number) {
    const seen: RequestContext[] = [];
    const api = await buildApi(
      {
        document: DOCUMENT,
        handlers: {
          createEchoJob: (_req, ctx) => {
            seen.push(ctx);
            return { status: 201, body: {} };
          },
          getEchoJob: () => ({ status: 404 }),
          deleteEchoJob: () => ({ status: 404 }),
        },
      },
      { openId: async () => {} },
      async () => {},
    );
    const responses = Array.from({ length: n }, (_, i) => response(`c-${i}`));
    for (const [i, r] of responses.entries()) await api.handle(request(`m${i}`), {} as IncomingMessage, r.res);
    return { seen, responses };
  }

  it('carries the operation, the correlator and the principal, and makes the logger only when asked', async () => {
    const { seen, responses } = await contexts(1);
    const [ctx] = seen;
    assert.equal(ctx.operationId, 'createEchoJob');
    assert.equal(ctx.correlator, 'c-0');
    assert.deepEqual(ctx.principal, { clientId: 'app' });
    assert.equal(responses[0].made(), 0, 'no logger before a handler logs');
    assert.deepEqual(ctx.log, { correlator: 'c-0' });
    assert.equal(responses[0].made(), 1);
  });

  // A getter written in each request's object literal is stored in an AccessorPair, which V8
  // allocates in the old generation: dead, it still holds the getter's closure, and with it the
  // whole request, through every young-generation collection until a full one. That promoted
  // about 8 KB per request and made every scavenge several times longer.
  it('reads the logger through one getter shared by every request, not one made per request', async () => {
    const { seen } = await contexts(3);
    assert.equal(seen.length, 3);
    for (const ctx of seen) assert.equal(Object.getOwnPropertyDescriptor(ctx, 'log'), undefined, 'log is not an accessor of each context of its own');
    const proto = Object.getPrototypeOf(seen[0]) as object;
    assert.equal(Object.getPrototypeOf(seen[1]), proto);
    assert.equal(typeof Object.getOwnPropertyDescriptor(proto, 'log')?.get, 'function');
  });
});
