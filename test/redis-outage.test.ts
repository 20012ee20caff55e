import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectError } from './support/contract.ts';
import { until as eventually } from './support/wait.ts';

describe('Redis going away and coming back', function () {
  this.timeout(60_000);
  let dir: string;
  let redis: RedisServer;
  let gw: TestGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eg-outage-'));
    redis = await startRedisServer({ dir, appendOnly: true });
    gw = await startTestGateway({ redisUrl: redis.url });
  });
  after(async () => {
    await gw.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 UNAVAILABLE at once while Redis is down, then recovers by itself', async () => {
    const token = await gw.token();
    const create = () => gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'before' });
    const before = await create();
    assert.equal(before.status, 201);
    const port = redis.port;

    await redis.stop();
    const t0 = Date.now();
    const down = await create();
    await expectError(down, 503, 'UNAVAILABLE');
    assert.equal(down.headers['retry-after'], '1');
    assert.ok(Date.now() - t0 < 10_000, 'the API did not hang');
    await expectError(await gw.http.get(`/echo/v1/jobs/${before.body.jobId}`).set('Authorization', `Bearer ${token}`), 503, 'UNAVAILABLE');
    const tokenWhileDown = await gw.http.post('/oauth2/token').auth('acme-app', 'acme-secret').type('form').send({ grant_type: 'client_credentials' });
    await expectError(tokenWhileDown, 503, 'UNAVAILABLE');
    const ready = await gw.http.get('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.checks.redis, /unreachable/);
    assert.equal((await gw.http.get('/healthz')).status, 200, 'the process itself is alive');
    assert.equal((await gw.http.get('/metrics')).status, 200, 'metrics still answer');

    // Same port, same append-only file: the data written before the outage comes back.
    redis = await startRedisServer({ dir, port, appendOnly: true });
    await eventually(() => gw.http.get('/readyz'), (r) => r.status === 200);
    const again = await eventually(create, (r) => r.status === 201);
    assert.equal(again.status, 201);
    const old = await gw.http.get(`/echo/v1/jobs/${before.body.jobId}`).set('Authorization', `Bearer ${token}`);
    assert.equal(old.status, 200, 'the job created before the outage survived in the append-only file');
    // Workers reconnected too: the new job is processed.
    const done = await eventually(
      () => gw.http.get(`/echo/v1/jobs/${again.body.jobId}`).set('Authorization', `Bearer ${token}`),
      (r) => r.body.status === 'DONE',
    );
    assert.equal(done.body.echo, 'before');
  });
});
