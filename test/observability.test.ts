import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

describe('health, readiness, metrics and logs', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  it('/healthz says the process is alive', async () => {
    const res = await gw.http.get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('/readyz checks Redis and the workers', async () => {
    const res = await gw.http.get('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ready', checks: { redis: 'ok', workers: 'ok' } });
  });

  it('/readyz turns 503 once the workers stop', async () => {
    const other = await startTestGateway({ prefix: gw.config.redisPrefix });
    await other.system.workers!.close();
    const res = await other.http.get('/readyz');
    assert.equal(res.status, 503);
    assert.equal(res.body.checks.workers, 'not running');
    await other.close();
    const closed = await other.http.get('/readyz');
    assert.equal(closed.status, 503, 'a closing gateway is not ready');
  });

  it('/metrics exposes request counts and latency by operation and status, queue depths and job durations', async () => {
    const token = await gw.token();
    const created = await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'measure me' });
    await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ nope: 1 });
    await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'later', delaySeconds: 300 });
    for (let i = 0; i < 100; i++) {
      const job = await gw.http.get(`/echo/v1/jobs/${created.body.jobId}`).set('Authorization', `Bearer ${token}`);
      if (job.body.status === 'DONE') break;
      await new Promise((r) => setTimeout(r, 30));
    }
    const res = await gw.http.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain/);
    assert.match(res.text, /gateway_http_requests_total\{operation="createEchoJob",method="POST",status_code="201"\} 2/);
    assert.match(res.text, /gateway_http_requests_total\{operation="createEchoJob",method="POST",status_code="400"\} 1/);
    assert.match(res.text, /gateway_http_requests_total\{operation="oauth2.token",method="POST",status_code="200"\} 1/);
    assert.match(res.text, /gateway_http_request_duration_seconds_bucket\{le="0.1",operation="createEchoJob",method="POST",status_code="201"\}/);
    assert.match(res.text, /gateway_queue_jobs\{queue="echo",state="delayed"\} 1/);
    assert.match(res.text, /gateway_job_duration_seconds_count\{queue="echo",name="echo.process",outcome="completed"\} 1/);
    assert.doesNotMatch(res.text, /\/echo\/v1\/jobs\/[0-9a-f-]{36}/, 'raw URLs never become labels');
  });

  it('logs one JSON line per request with correlator, client and operation, and never the token', async () => {
    const token = await gw.token();
    await gw.http.get('/echo/v1/jobs/00000000-0000-4000-8000-000000000000').set('Authorization', `Bearer ${token}`).set('x-correlator', 'log-check-1');
    const line = gw.logs.lines.find((l) => l.correlator === 'log-check-1' && l.msg === 'request');
    assert.ok(line, 'request logged');
    assert.equal(line!.operation, 'getEchoJob');
    assert.equal(line!.clientId, 'acme-app');
    assert.equal(line!.status, 404);
    assert.equal(typeof line!.ms, 'number');
    assert.ok(!gw.logs.raw.includes(token), 'access token never logged');
  });
});

describe('requests refused before routing are still observed', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  it('a bad x-correlator and a failed token request are logged and counted', async () => {
    await gw.http.get('/healthz').set('x-correlator', 'bad value');
    await gw.http.post('/oauth2/token').auth('acme-app', 'wrong').type('form').send({ grant_type: 'client_credentials' });
    assert.ok(gw.logs.lines.some((l) => l.msg === 'request' && l.status === 400 && l.path === '/healthz'));
    const metrics = await gw.http.get('/metrics');
    assert.match(metrics.text, /gateway_http_requests_total\{operation="oauth2.token",method="POST",status_code="401"\} 1/);
    assert.match(metrics.text, /gateway_http_requests_total\{operation="unmatched",method="GET",status_code="400"\} 1/);
  });
});
