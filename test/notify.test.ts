import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createRedis, keyBuilder, waitReady, type RedisClient } from '../src/infra/redis.ts';
import { createLogger } from '../src/infra/logger.ts';
import { createMetrics } from '../src/infra/metrics.ts';
import { JobQueues, bullPrefix } from '../src/jobs/queues.ts';
import { WorkerPool } from '../src/jobs/workers.ts';
import { TenancyStore } from '../src/tenancy/store.ts';
import { Keyring } from '../src/auth/keyring.ts';
import { ApiError } from '../src/http/errors.ts';
import { Notifier, stableEventId, type NotificationRequest, type NotifierOptions, type SinkCredential } from '../src/notify/index.ts';
import { backoffMs, retryAfterMs } from '../src/notify/delivery.ts';
import { ADMIN_TOKEN, LogCapture, startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';
import { testRedisUrl } from './support/hooks.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const QOS_STATUS_CHANGED = 'org.camaraproject.quality-on-demand.v1.qos-status-changed';
/** Short delays so that retries happen within a test. */
const FAST: NotifierOptions = { baseDelayMs: 30, maxAttempts: 5, timeoutMs: 2000, sweepIntervalMs: 200, stuckAfterMs: 300 };

async function until(check: () => boolean | Promise<boolean>, ms = 8000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a local HTTP server answers: a status, optional headers and JSON body; a promise holds the request. */
type Answer = { status: number; headers?: Record<string, string>; json?: unknown };
type Handler = (req: { method: string; url: string; headers: IncomingHttpHeaders; text: string }) => Answer | Promise<Answer>;

/** A server on loopback, for sinks and a client's authorization server. */
async function serve(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const answer = await handler({ method: req.method!, url: req.url!, headers: req.headers, text: Buffer.concat(chunks).toString('utf8') });
      if (res.destroyed) return;
      res.writeHead(answer.status, { ...(answer.json !== undefined ? { 'content-type': 'application/json' } : {}), ...answer.headers });
      res.end(answer.json !== undefined ? JSON.stringify(answer.json) : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Received {
  id: string;
  body: any;
  headers: IncomingHttpHeaders;
  at: number;
  /** Set once answered. */
  status?: number;
}

/** A client's sink that records every request in arrival order and answers as `respond` says. */
class Sink {
  readonly requests: Received[] = [];
  respond: (r: Received, received: Received[]) => number | Answer | Promise<number | Answer> = () => 204;
  url = '';
  private server?: { url: string; close(): Promise<void> };

  static async start(respond?: Sink['respond']): Promise<Sink> {
    const sink = new Sink();
    if (respond) sink.respond = respond;
    sink.server = await serve(async (req) => {
      const body = JSON.parse(req.text);
      const r: Received = { id: body.id, body, headers: req.headers, at: Date.now() };
      sink.requests.push(r);
      const a = await sink.respond(r, sink.requests);
      const answer = typeof a === 'number' ? { status: a } : a;
      r.status = answer.status;
      return answer;
    });
    sink.url = `${sink.server.url}/hooks/qod`;
    return sink;
  }

  /** Ids the sink accepted (2xx), in the order it accepted them. */
  delivered(): string[] {
    return this.requests.filter((r) => r.status !== undefined && r.status < 300).map((r) => r.id);
  }

  attempts(id: string): number {
    return this.requests.filter((r) => r.id === id).length;
  }

  close(): Promise<void> {
    return this.server!.close();
  }
}

/** A worker process of the same deployment as the gateway: its own Redis connection, notifier and workers. */
interface Node {
  notifier: Notifier;
  logs: LogCapture;
  /** Delivery jobs this node's workers ran (each claim attempt is one). */
  jobsRun(): Promise<number>;
  close(): Promise<void>;
  /** Stops the workers without waiting for deliveries in flight and cuts Redis, as a killed process would. */
  kill(): Promise<void>;
}

async function startNode(gw: TestGateway, options: NotifierOptions, o: { concurrency?: number; workers?: boolean } = {}): Promise<Node> {
  const url = testRedisUrl();
  const redis: RedisClient = createRedis(url, 'command');
  redis.on('error', () => {});
  await waitReady(redis, url);
  const key = keyBuilder(gw.config.redisPrefix);
  const prefix = bullPrefix(gw.config.redisPrefix);
  const queues = new JobQueues(redis, prefix);
  const keyring = new Keyring(redis, key, { maxTokenLifetimeSeconds: 700 });
  await keyring.init();
  const logs = new LogCapture();
  const logger = createLogger('debug', {}, logs.stream);
  const notifier = new Notifier({ redis, key, queues, store: new TenancyStore(redis, key), keyring, logger, config: gw.config }, options);
  const metrics = createMetrics({ defaultMetrics: false });
  const pool = new WorkerPool(notifier.processors(), {
    connect: () => createRedis(url, 'blocking').on('error', () => {}),
    prefix,
    logger,
    metrics,
    concurrency: o.concurrency ?? 10,
    closeTimeoutMs: 100,
  });
  if (o.workers !== false) {
    pool.start();
    await notifier.start();
  }
  const node: Node = {
    notifier,
    logs,
    async jobsRun() {
      const { values } = await metrics.jobDuration.get();
      return values.filter((v) => v.metricName?.endsWith('_count') && v.labels.name === 'notify.deliver').reduce((n, v) => n + v.value, 0);
    },
    async close() {
      await pool.close();
      await queues.close();
      redis.disconnect();
    },
    async kill() {
      redis.disconnect();
      await pool.close();
    },
  };
  nodes.push(node);
  return node;
}

const nodes: Node[] = [];
const servers: Array<{ close(): Promise<void> }> = [];

function event(sink: string, over: Partial<NotificationRequest> = {}): NotificationRequest {
  return {
    clientId: 'acme-app',
    sink,
    orderingKey: 'session-1',
    type: QOS_STATUS_CHANGED,
    source: 'https://gateway.test/quality-on-demand/v1/sessions/session-1',
    data: { sessionId: 'session-1', qosStatus: 'AVAILABLE' },
    correlator: 'b4333c46-49c0-4f62-80d7-f0ef930f1c46',
    ...over,
  };
}

function bearer(over: Partial<SinkCredential> = {}): SinkCredential {
  return {
    credentialType: 'ACCESSTOKEN',
    accessToken: `sink-token-${randomUUID()}`,
    accessTokenExpiresUtc: new Date(Date.now() + 3600_000).toISOString(),
    accessTokenType: 'bearer',
    ...over,
  };
}

async function rejects(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('notifications: CloudEvents delivery to sinks', () => {
  let gw: TestGateway;
  /** The gateway's notifier: what a capability's handler calls on the request path. */
  let api: Notifier;

  const admin = (method: 'get' | 'post' | 'patch' | 'delete', path: string) => gw.http[method](`/admin/v1${path}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  const eventKey = (id: string) => gw.system.services.key('notify', 'event', id);
  const stored = async (id: string) => (await gw.system.services.redis.exists(eventKey(id))) === 1;
  const sink = async (respond?: Sink['respond']) => {
    const s = await Sink.start(respond);
    servers.push(s);
    return s;
  };

  beforeEach(async () => {
    // The API process only; each test runs its own worker nodes with short delays.
    gw = await startTestGateway({ roles: ['gateway'] });
    api = gw.system.services.notifier;
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.close().catch(() => {});
    for (const s of servers.splice(0)) await s.close();
    await gw.close();
  });

  describe('back-off and Retry-After', () => {
    it('doubles the delay per attempt with bounded jitter, up to the cap', () => {
      const o = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.5 };
      assert.equal(backoffMs(1, o, () => 0), 500);
      assert.equal(backoffMs(1, o, () => 1), 1000);
      assert.equal(backoffMs(3, o, () => 1), 4000);
      assert.equal(backoffMs(30, o, () => 1), 60_000);
      assert.equal(backoffMs(30, o, () => 0), 30_000);
    });

    it('reads Retry-After as seconds or an HTTP-date', () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      assert.equal(retryAfterMs('120', now), 120_000);
      assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
      assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
      assert.equal(retryAfterMs('soon', now), undefined);
      assert.equal(retryAfterMs(null, now), undefined);
    });
  });

  describe('sink and credential validation', () => {
    it('allows https, and plain http only to loopback hosts outside production', async () => {
      await api.validateSink('acme-app', 'https://hooks.acme.example/qod');
      for (const ok of ['http://127.0.0.1:9/x', 'http://127.8.9.10/x', 'http://localhost:9/x', 'http://[::1]:9/x']) await api.validateSink('acme-app', ok);
      for (const bad of ['http://hooks.acme.example/qod', 'http://10.0.0.1/x', 'ftp://127.0.0.1/x', 'not a url', `https://hooks.acme.example/${'a'.repeat(2040)}`, 'https://user:pw@hooks.acme.example/x']) {
        await rejects(api.validateSink('acme-app', bad), 400, 'INVALID_SINK');
      }
      await rejects(api.enqueue(event('http://hooks.acme.example/qod')), 400, 'INVALID_SINK');
      const production = new Notifier({ ...gw.system.services, keyring: gw.system.keyring, config: { ...gw.config, env: 'production' } });
      await rejects(production.validateSink('acme-app', 'http://127.0.0.1:9/x'), 400, 'INVALID_SINK');
      await production.validateSink('acme-app', 'https://hooks.acme.example/qod');
    });

    it('holds sinks to the application’s notification hosts', async () => {
      const res = await admin('patch', '/tenants/acme/applications/acme-app').send({ notificationHosts: ['hooks.acme.example', '::1'] });
      assert.equal(res.status, 200, res.text);
      await api.validateSink('acme-app', 'https://HOOKS.acme.example:8443/qod');
      await api.validateSink('acme-app', 'http://[::1]:9/x');
      await rejects(api.validateSink('acme-app', 'https://evil.example/qod'), 400, 'INVALID_SINK');
      await rejects(api.validateSink('acme-app', 'http://127.0.0.1:9/x'), 400, 'INVALID_SINK');
      // Another application's hosts are its own.
      await api.validateSink('globex-app', 'https://evil.example/qod');
    });

    it('refuses ACCESSTOKEN credentials that are expired, not bearer or incomplete', async () => {
      const s = 'https://hooks.acme.example/qod';
      await api.validateSink('acme-app', s, bearer());
      await rejects(api.validateSink('acme-app', s, bearer({ accessTokenExpiresUtc: new Date(Date.now() - 1000).toISOString() })), 400, 'INVALID_TOKEN');
      await rejects(api.validateSink('acme-app', s, bearer({ accessTokenType: 'mac' as 'bearer' })), 400, 'INVALID_TOKEN');
      await rejects(api.validateSink('acme-app', s, bearer({ accessToken: undefined })), 400, 'INVALID_CREDENTIAL');
      await rejects(api.validateSink('acme-app', s, bearer({ accessTokenExpiresUtc: 'tomorrow' })), 400, 'INVALID_CREDENTIAL');
      await rejects(api.validateSink('acme-app', s, { credentialType: 'PLAIN' } as unknown as SinkCredential), 400, 'INVALID_CREDENTIAL');
    });

    it('answers 422 PRIVATE_KEY_JWT_NOT_CONFIGURED unless the application was onboarded with a sink token endpoint and client id', async () => {
      const s = 'https://hooks.acme.example/qod';
      await rejects(api.validateSink('acme-app', s, { credentialType: 'PRIVATE_KEY_JWT' }), 422, 'PRIVATE_KEY_JWT_NOT_CONFIGURED');
      let res = await admin('patch', '/tenants/acme/applications/acme-app').send({ sinkTokenEndpoint: 'https://as.acme.example/token' });
      assert.equal(res.status, 200, res.text);
      await rejects(api.validateSink('acme-app', s, { credentialType: 'PRIVATE_KEY_JWT' }), 422, 'PRIVATE_KEY_JWT_NOT_CONFIGURED');
      res = await admin('patch', '/tenants/acme/applications/acme-app').send({ sinkClientId: 'exposure-gateway' });
      assert.equal(res.body.sinkClientId, 'exposure-gateway');
      await expectContract(res);
      await api.validateSink('acme-app', s, { credentialType: 'PRIVATE_KEY_JWT' });
      res = await admin('patch', '/tenants/acme/applications/acme-app').send({ sinkTokenEndpoint: null });
      assert.equal(res.body.sinkTokenEndpoint, undefined);
      await rejects(api.validateSink('acme-app', s, { credentialType: 'PRIVATE_KEY_JWT' }), 422, 'PRIVATE_KEY_JWT_NOT_CONFIGURED');
      await expectError(await admin('patch', '/tenants/acme/applications/acme-app').send({ sinkTokenEndpoint: 'ftp://as.example' }), 400, 'INVALID_ARGUMENT');
    });
  });

  describe('delivery', () => {
    it('POSTs a structured-mode CloudEvent with x-correlator, webhook-id, webhook-timestamp and the bearer token', async () => {
      const s = await sink();
      const node = await startNode(gw, FAST);
      const credential = bearer();
      await api.validateSink('acme-app', s.url, credential);
      const before = Math.floor(Date.now() / 1000);
      const id = await api.enqueue(event(s.url, { sinkCredential: credential }));
      assert.match(id, UUID);
      await until(() => s.delivered().length === 1);
      const { headers, body } = s.requests[0];
      assert.equal(headers['content-type'], 'application/cloudevents+json');
      assert.equal(headers['x-correlator'], 'b4333c46-49c0-4f62-80d7-f0ef930f1c46');
      assert.equal(headers['webhook-id'], id);
      assert.ok(Number(headers['webhook-timestamp']) >= before && Number(headers['webhook-timestamp']) <= before + 60);
      assert.equal(headers.authorization, `Bearer ${credential.accessToken}`);
      assert.deepEqual(Object.keys(body).sort(), ['data', 'datacontenttype', 'id', 'source', 'specversion', 'time', 'type']);
      assert.equal(body.id, id);
      assert.equal(body.specversion, '1.0');
      assert.equal(body.type, QOS_STATUS_CHANGED);
      assert.equal(body.source, 'https://gateway.test/quality-on-demand/v1/sessions/session-1');
      assert.equal(body.datacontenttype, 'application/json');
      assert.match(body.time, RFC3339);
      assert.deepEqual(body.data, { sessionId: 'session-1', qosStatus: 'AVAILABLE' });
      // Delivered events leave nothing behind, and the token is in no log line.
      await until(async () => !(await stored(id)));
      assert.ok(!gw.logs.raw.includes(credential.accessToken!) && !node.logs.raw.includes(credential.accessToken!), 'the sink token was logged');
    });

    it('gets a token for PRIVATE_KEY_JWT sinks with an assertion the client verifies against the gateway JWKS, and caches it', async () => {
      const server = await gw.system.listen(0, '127.0.0.1');
      const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/jwks`));
      const issued = new Set<string>();
      const assertions: string[] = [];
      const problems: string[] = [];
      const seenJti = new Set<unknown>();
      const as = await serve(async ({ text }) => {
        const form = new URLSearchParams(text);
        try {
          assert.equal(form.get('grant_type'), 'client_credentials');
          assert.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
          const assertion = form.get('client_assertion')!;
          assertions.push(assertion);
          const { payload } = await jwtVerify(assertion, jwks, {
            algorithms: ['ES256'],
            issuer: 'eg-at-acme',
            subject: 'eg-at-acme',
            audience: `${asUrl}/token`,
            typ: 'client-authentication+jwt',
            requiredClaims: ['exp', 'iat', 'jti'],
          });
          assert.ok(payload.exp! - payload.iat! <= 300, 'a short-lived assertion');
          assert.ok(!seenJti.has(payload.jti), 'a fresh jti');
          seenJti.add(payload.jti);
        } catch (err) {
          problems.push((err as Error).message);
          return { status: 401, json: { error: 'invalid_client' } };
        }
        const token = `as-token-${randomUUID()}`;
        issued.add(token);
        return { status: 200, json: { access_token: token, token_type: 'Bearer', expires_in: 300 } };
      });
      servers.push(as);
      const asUrl = as.url;
      const s = await sink((r) => (issued.has(String(r.headers.authorization).replace(/^Bearer /, '')) ? 204 : 401));
      const res = await admin('patch', '/tenants/acme/applications/acme-app').send({ sinkTokenEndpoint: `${asUrl}/token`, sinkClientId: 'eg-at-acme' });
      assert.equal(res.status, 200, res.text);
      await api.validateSink('acme-app', s.url, { credentialType: 'PRIVATE_KEY_JWT' });
      const node = await startNode(gw, FAST);

      const first = await api.enqueue(event(s.url, { sinkCredential: { credentialType: 'PRIVATE_KEY_JWT' } }));
      await until(() => s.delivered().includes(first));
      const second = await api.enqueue(event(s.url, { orderingKey: 'session-2', sinkCredential: { credentialType: 'PRIVATE_KEY_JWT' } }));
      await until(() => s.delivered().includes(second));
      assert.deepEqual(problems, []);
      assert.equal(issued.size, 1, 'the token is cached until shortly before it expires');
      assert.equal(s.requests.length, 2);
      for (const secret of [...issued, ...assertions]) assert.ok(!node.logs.raw.includes(secret) && !gw.logs.raw.includes(secret), 'a token or assertion was logged');
    });

    it('retries a failed delivery with the same id and body until the sink accepts it', async () => {
      const s = await sink((r, all) => (all.filter((x) => x.id === r.id).length < 3 ? 500 : 204));
      await startNode(gw, FAST);
      const id = await api.enqueue(event(s.url));
      await until(() => s.delivered().includes(id));
      assert.equal(s.requests.length, 3);
      assert.deepEqual(s.requests.map((r) => r.status), [500, 500, 204]);
      for (const r of s.requests) {
        assert.equal(r.headers['webhook-id'], id);
        assert.deepEqual(r.body, s.requests[0].body);
      }
      assert.deepEqual(await api.deadLetters(), []);
    });

    it('honours Retry-After on 429', async () => {
      const s = await sink((r, all) => (all.length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 204));
      await startNode(gw, { ...FAST, baseDelayMs: 10 });
      const id = await api.enqueue(event(s.url));
      await until(() => s.delivered().includes(id));
      assert.equal(s.requests.length, 2);
      assert.ok(s.requests[1].at - s.requests[0].at >= 900, `retried after ${s.requests[1].at - s.requests[0].at} ms, not the second Retry-After asked for`);
    });

    it('stops at 410 Gone: no retry, events queued for the sink are dropped, later ones are not stored', async () => {
      const s = await sink(() => 410);
      await startNode(gw, FAST);
      const first = await api.enqueue(event(s.url));
      const queuedBehind = await api.enqueue(event(s.url));
      await until(async () => !(await stored(first)) && !(await stored(queuedBehind)));
      const later = await api.enqueue(event(s.url, { orderingKey: 'session-2' }));
      assert.equal(await stored(later), false);
      assert.equal(s.requests.length, 1);
      assert.deepEqual(await api.deadLetters(), []);
      // Another application's events to the same URL are its own business.
      const other = await api.enqueue(event(s.url, { clientId: 'globex-app' }));
      await until(() => s.requests.some((r) => r.id === other));
      // A client that names the sink again for a new resource says it is back.
      s.respond = () => 204;
      await api.validateSink('acme-app', s.url);
      const revived = await api.enqueue(event(s.url, { orderingKey: 'session-3' }));
      await until(() => s.delivered().includes(revived));
    });

    it('keeps per-key order across retries while other keys move on', async () => {
      const ids: Record<string, string> = {};
      const named = (n: string) => (r: Received) => r.body.data.n === n;
      // e1 fails its first two attempts, and until f1 (another key) has been delivered.
      const s = await sink((r, all) => {
        if (!named('e1')(r)) return 204;
        return all.filter(named('e1')).length <= 2 || !all.some((x) => named('f1')(x) && x.status === 204) ? 503 : 204;
      });
      await startNode(gw, { ...FAST, baseDelayMs: 100 });
      for (const n of ['e1', 'e2', 'e3']) ids[n] = await api.enqueue(event(s.url, { orderingKey: 'session-a', data: { n } }));
      ids.f1 = await api.enqueue(event(s.url, { orderingKey: 'session-b', data: { n: 'f1' } }));
      await until(() => s.delivered().length === 4);
      const delivered = s.delivered();
      assert.deepEqual(delivered.filter((id) => id !== ids.f1), [ids.e1, ids.e2, ids.e3]);
      assert.ok(delivered.indexOf(ids.f1) < delivered.indexOf(ids.e1), 'session-b was not held up by session-a');
      const firstE2 = s.requests.findIndex((r) => r.id === ids.e2);
      const e1Accepted = s.requests.findIndex((r) => r.id === ids.e1 && r.status === 204);
      assert.ok(firstE2 > e1Accepted, 'e2 was sent before e1 was delivered');
      assert.equal(s.attempts(ids.e1), 3);
    });

    it('dead-letters an event after its last attempt, moves its key on, and lets the operator list, retry and drop it', async () => {
      const fixed = new Set<string>();
      const s = await sink((r) => (r.body.data.fail && !fixed.has(r.id) ? 500 : 204));
      const credential = bearer();
      await startNode(gw, { ...FAST, maxAttempts: 3 });
      const enqueue = (over: Partial<NotificationRequest>, fail: boolean) => api.enqueue(event(s.url, { sinkCredential: credential, data: { fail }, ...over }));
      const doomed = await enqueue({}, true);
      const next = await enqueue({}, false);
      await until(() => s.delivered().includes(next));
      assert.equal(s.attempts(doomed), 3);
      const lastOfDoomed = s.requests.map((r) => r.id).lastIndexOf(doomed);
      assert.ok(s.requests.findIndex((r) => r.id === next) > lastOfDoomed, 'the next event waited for the dead letter');

      let res = await admin('get', '/notifications/dead-letters?clientId=acme-app');
      assert.equal(res.status, 200, res.text);
      await expectContract(res);
      assert.equal(res.body.length, 1);
      const [letter] = res.body;
      assert.deepEqual({ ...letter, failedAt: undefined }, {
        id: doomed,
        clientId: 'acme-app',
        sink: s.url,
        type: QOS_STATUS_CHANGED,
        orderingKey: 'session-1',
        attempts: 3,
        lastError: 'sink answered 500',
        failedAt: undefined,
      });
      assert.match(letter.failedAt, RFC3339);
      assert.ok(!res.text.includes(credential.accessToken!), 'the credential is never shown');
      assert.deepEqual((await admin('get', '/notifications/dead-letters?clientId=globex-app')).body, []);
      await expectError(await admin('get', '/notifications/dead-letters?limit=0'), 400, 'INVALID_ARGUMENT');

      // Retry: delivered once the sink is fixed, and no longer a dead letter.
      fixed.add(doomed);
      res = await admin('post', `/notifications/dead-letters/${doomed}/retry`);
      assert.equal(res.status, 202, res.text);
      await expectContract(res);
      await until(() => s.delivered().includes(doomed));
      assert.deepEqual((await admin('get', '/notifications/dead-letters')).body, []);

      // Drop.
      const dropped = await enqueue({ orderingKey: 'session-2' }, true);
      await until(async () => (await api.deadLetters()).some((d) => d.id === dropped));
      res = await admin('delete', `/notifications/dead-letters/${dropped}`);
      assert.equal(res.status, 204, res.text);
      await expectContract(res);
      assert.deepEqual((await admin('get', '/notifications/dead-letters')).body, []);
      assert.equal(await stored(dropped), false);
      await expectError(await admin('delete', `/notifications/dead-letters/${dropped}`), 404, 'NOT_FOUND');
      await expectError(await admin('post', `/notifications/dead-letters/${dropped}/retry`), 404, 'NOT_FOUND');
      await expectError(await admin('post', `/notifications/dead-letters/${next}/retry`), 404, 'NOT_FOUND');
    });

    it('a slow sink takes at most its client’s share of the workers: another client’s events go through meanwhile', async () => {
      const held: Array<() => void> = [];
      const slow = await sink(() => new Promise<number>((resolve) => held.push(() => resolve(204))));
      const fast = await sink();
      await startNode(gw, { ...FAST, timeoutMs: 20_000, maxInFlightPerClient: 2 }, { concurrency: 4 });
      const slowIds: string[] = [];
      for (let i = 0; i < 6; i++) slowIds.push(await api.enqueue(event(slow.url, { orderingKey: `session-${i}` })));
      await until(() => slow.requests.length >= 2);
      const id = await api.enqueue(event(fast.url, { clientId: 'globex-app' }));
      await until(() => fast.delivered().includes(id), 5000, 'the other client’s delivery');
      assert.equal(slow.requests.length, 2, 'the slow client stayed within its in-flight limit');
      assert.equal(slow.delivered().length, 0, 'the slow sink answered nothing yet');
      // Once it answers, everything queued for it follows.
      const release = setInterval(() => held.splice(0).forEach((f) => f()), 20);
      try {
        await until(() => slow.delivered().length === 6, 15_000);
      } finally {
        clearInterval(release);
      }
      assert.deepEqual([...slow.delivered()].sort(), [...slowIds].sort());
    });

    it('a process that runs workers makes the first attempt itself, without a job, in order per key', async () => {
      const s = await sink();
      const node = await startNode(gw, FAST);
      const ids: string[] = [];
      for (const n of [1, 2, 3]) ids.push(await node.notifier.enqueue(event(s.url, { orderingKey: 'session-inline', data: { n } })));
      await until(() => s.delivered().length === 3);
      assert.deepEqual(s.delivered(), ids);
      assert.equal(await node.jobsRun(), 0, 'no delivery job was needed');
    });

    it('a client at its in-flight limit parks its events: each one is woken when a slot frees, not polled', async () => {
      const s = await sink(() => new Promise<number>((resolve) => setTimeout(() => resolve(204), 2)));
      // A sweeper that would only look after a minute: only the wake-ups can move the parked events.
      const node = await startNode(gw, { ...FAST, maxInFlightPerClient: 2, stuckAfterMs: 60_000, sweepIntervalMs: 60_000 }, { concurrency: 8 });
      const ids: string[] = [];
      for (let i = 0; i < 120; i++) ids.push(await api.enqueue(event(s.url, { orderingKey: `burst-${i}` })));
      await until(() => s.delivered().length === 120, 20_000, 'every event of the burst');
      assert.deepEqual([...s.delivered()].sort(), [...ids].sort());
      // One job per event, plus at most one more for each time it was parked and woken.
      const jobs = await node.jobsRun();
      assert.ok(jobs <= 2 * ids.length, `${jobs} delivery jobs for ${ids.length} events`);
      assert.ok(s.requests.length <= ids.length + 2, 'nothing was delivered twice');
    });

    it('an event born while its client is at its in-flight limit is parked at once and woken here: no delivery job at all', async () => {
      let inFlight = 0;
      let most = 0;
      const s = await sink(() => {
        most = Math.max(most, ++inFlight);
        return new Promise<number>((resolve) =>
          setTimeout(() => {
            inFlight--;
            resolve(204);
          }, 5),
        );
      });
      const node = await startNode(gw, { ...FAST, maxInFlightPerClient: 2, stuckAfterMs: 60_000, sweepIntervalMs: 60_000 }, { concurrency: 8 });
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => node.notifier.enqueue(event(s.url, { orderingKey: `born-${i}` }))));
      await until(() => s.delivered().length === 40, 20_000, 'every event');
      assert.deepEqual([...s.delivered()].sort(), [...ids].sort());
      assert.ok(most <= 2, `${most} deliveries at once for a limit of 2`);
      assert.equal(await node.jobsRun(), 0, 'no delivery job was needed');
      assert.equal(s.requests.length, 40, 'nothing was delivered twice');
    });

    it('an event enqueued again with its id while it waits is not queued twice, from a worker process or a producer', async () => {
      const held: Array<() => void> = [];
      const s = await sink(() => new Promise<number>((resolve) => held.push(() => resolve(204))));
      const worker = await startNode(gw, FAST);
      const id = stableEventId('test/repeated');
      // Claimed and made at once by the worker process; the sink holds it.
      assert.equal(await worker.notifier.enqueue(event(s.url, { id, orderingKey: 'session-r' })), id);
      await until(() => s.requests.length === 1);
      assert.equal(await worker.notifier.enqueue(event(s.url, { id, orderingKey: 'session-r' })), id);
      assert.equal(await api.enqueue(event(s.url, { id, orderingKey: 'session-r' })), id);
      const later = await api.enqueue(event(s.url, { orderingKey: 'session-r' }));
      const release = setInterval(() => held.splice(0).forEach((f) => f()), 20);
      try {
        await until(() => s.delivered().includes(later));
      } finally {
        clearInterval(release);
      }
      assert.deepEqual(s.delivered(), [id, later], 'one delivery of the repeated event, then the next of its key');
      assert.equal(s.requests.length, 2);
      await assert.rejects(api.enqueue(event(s.url, { id: '' })), /id must be a string of 1 to 128 characters/);
    });

    it('a worker killed mid-delivery loses nothing: another delivers everything in order (same id again)', async () => {
      let hold = true;
      const s = await sink((r) => (hold && r.body.data.n === 1 ? new Promise<number>(() => {}) : 204));
      const options = { ...FAST, timeoutMs: 1000, leaseMs: 2500 };
      const doomed = await startNode(gw, options);
      const ids: string[] = [];
      for (const n of [1, 2, 3]) ids.push(await api.enqueue(event(s.url, { orderingKey: 'session-c', data: { n } })));
      await until(() => s.requests.length === 1);
      await doomed.kill();
      hold = false;
      await startNode(gw, options);
      await until(() => s.delivered().length === 3, 15_000);
      assert.deepEqual(s.delivered(), ids);
      const first = s.requests.filter((r) => r.id === ids[0]);
      assert.ok(first.length >= 2, 'the interrupted delivery was made again');
      for (const r of first) assert.deepEqual(r.body, first[0].body);
      assert.ok(s.requests.findIndex((r) => r.id === ids[1]) > s.requests.findIndex((r) => r.id === ids[0] && r.status === 204));
      for (const id of ids) assert.equal(await stored(id), false);
    });

    it('recovers an event whose job was lost between storing it and queueing it', async () => {
      const s = await sink();
      const producer = await startNode(gw, FAST, { workers: false });
      const id = await producer.notifier.enqueue(event(s.url));
      const job = await gw.system.services.redis.hget(eventKey(id), 'job');
      assert.equal(await gw.system.services.queues.queue('notify').remove(job!), 1);
      await startNode(gw, FAST);
      await until(() => s.delivered().includes(id));
    });
  });
});

describe('notifications in a whole gateway', () => {
  it('the system runs the notify workers and gives capabilities and the operator API the notifier', async () => {
    const gw = await startTestGateway();
    const s = await Sink.start();
    try {
      const id = await gw.system.services.notifier.enqueue(event(s.url));
      await until(() => s.delivered().includes(id));
      const res = await gw.http.get('/admin/v1/notifications/dead-letters').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, []);
      await expectContract(res);
    } finally {
      await s.close();
      await gw.close();
    }
  });
});
