import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { buildApi, type ApiResponse, type BackendRequest } from '../src/http/api-router.ts';
import { ApiError } from '../src/http/errors.ts';
import type { RequestContext } from '../src/capabilities/types.ts';

const DOCUMENT = fileURLToPath(new URL('../openapi/echo.yaml', import.meta.url));

/** What happened, in order, while one request went through the router. */
type Step = string;

function request(body: unknown): BackendRequest {
  return {
    method: 'POST',
    path: '/echo/v1/jobs',
    headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    query: {},
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

function response(): ApiResponse {
  return { locals: { correlator: 'c-1', principal: { clientId: 'app' } }, setHeader: () => undefined } as unknown as ApiResponse;
}

/**
 * An echo API whose admission answers a turn later (as a Redis round trip would) and whose
 * createEchoJob has a prefetch; `steps` records the order of events.
 */
async function mount(o: { refuse?: boolean; prefetchFails?: boolean }) {
  const steps: Step[] = [];
  let seen: RequestContext | undefined;
  const api = await buildApi(
    {
      document: DOCUMENT,
      handlers: {
        createEchoJob: async (_req, ctx) => {
          steps.push('handler');
          seen = ctx;
          return { status: 201, body: { read: await ctx.prefetched } };
        },
        getEchoJob: (_req, ctx) => {
          seen = ctx;
          return { status: 404 };
        },
        deleteEchoJob: () => ({ status: 404 }),
      },
      prefetch: {
        createEchoJob: async (req) => {
          steps.push(`prefetch ${(req.body as { message: string }).message}`);
          if (o.prefetchFails) throw new Error('the read failed');
          return 'the record';
        },
      },
    },
    { openId: async () => void steps.push('security') },
    async () => {
      steps.push('admission sent');
      await new Promise((r) => setImmediate(r));
      steps.push('admission answered');
      if (o.refuse) throw new ApiError('TOO_MANY_REQUESTS');
    },
  );
  return { api, steps, seen: () => seen };
}

describe('an operation\'s prefetch rides with the request\'s admission', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));
  beforeEach(() => (unhandled.length = 0));

  it('starts the read in the turn admission is sent, and hands it to the handler once admitted', async () => {
    const { api, steps, seen } = await mount({});
    const reply = await api.handle(request({ message: 'hi' }), {} as IncomingMessage, response());
    assert.deepEqual(steps, ['security', 'admission sent', 'prefetch hi', 'admission answered', 'handler']);
    assert.deepEqual(reply, { status: 201, body: { read: 'the record' } });
    assert.ok(seen()?.prefetched instanceof Promise);
  });

  it('a refused request gets the refusal; its read is dropped quietly and no handler runs', async () => {
    const { api, steps } = await mount({ refuse: true, prefetchFails: true });
    await assert.rejects(api.handle(request({ message: 'hi' }), {} as IncomingMessage, response()), (err: ApiError) => err.code === 'TOO_MANY_REQUESTS');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(steps, ['security', 'admission sent', 'prefetch hi', 'admission answered']);
    assert.deepEqual(unhandled, [], 'the failed read is no unhandled rejection');
  });

  it('an invalid body reads nothing, and a refusal still comes before the 400', async () => {
    const refused = await mount({ refuse: true });
    await assert.rejects(refused.api.handle(request({ wrong: 1 }), {} as IncomingMessage, response()), (err: ApiError) => err.code === 'TOO_MANY_REQUESTS');
    const admitted = await mount({});
    await assert.rejects(admitted.api.handle(request('{not json'), {} as IncomingMessage, response()), (err: ApiError) => err.status === 400);
    for (const { steps } of [refused, admitted]) assert.ok(!steps.some((s) => s.startsWith('prefetch')), steps.join(', '));
  });

  it('a failed read reaches the handler, which answers for it', async () => {
    const { api, steps } = await mount({ prefetchFails: true });
    await assert.rejects(api.handle(request({ message: 'hi' }), {} as IncomingMessage, response()), /the read failed/);
    assert.deepEqual(steps, ['security', 'admission sent', 'prefetch hi', 'admission answered', 'handler']);
  });

  it('operations without a prefetch get none', async () => {
    const { api, seen } = await mount({});
    const reply = await api.handle({ ...request({}), method: 'GET', path: '/echo/v1/jobs/2f1c3c1e-8d7c-4b1a-9c55-0a1e6b7c9d10', body: Buffer.alloc(0) }, {} as IncomingMessage, response());
    assert.equal(reply.status, 404);
    assert.ok(seen(), 'getEchoJob ran');
    assert.equal(seen()!.prefetched, undefined);
  });
});
