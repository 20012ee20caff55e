import assert from 'node:assert/strict';
import { startTestGateway, testBootstrap, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';
import type { Plan } from '../src/tenancy/types.ts';

function bootstrapWithPlan(plan: Plan) {
  return testBootstrap({ plans: { test: plan } });
}

describe('plan limits', () => {
  describe('rate limit shared by two gateway processes', () => {
    let a: TestGateway;
    let b: TestGateway;

    before(async () => {
      a = await startTestGateway({ bootstrap: bootstrapWithPlan({ rateLimit: { requests: 6, windowSeconds: 30 } }) });
      b = await startTestGateway({ prefix: a.config.redisPrefix, roles: ['gateway'], bootstrap: bootstrapWithPlan({ rateLimit: { requests: 6, windowSeconds: 30 } }) });
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    it('counts requests through both processes against one limit, then 429 TOO_MANY_REQUESTS', async () => {
      const token = await a.token();
      const results = [];
      for (let i = 0; i < 10; i++) {
        const gw = i % 2 === 0 ? a : b;
        results.push(await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: `n${i}` }));
      }
      assert.deepEqual(results.map((r) => r.status), [201, 201, 201, 201, 201, 201, 429, 429, 429, 429]);
      const first = results[0];
      assert.equal(first.headers['ratelimit-policy'], '"default";q=6;w=30');
      assert.match(first.headers.ratelimit, /^"default";r=5;t=\d+$/);
      const limited = results[6];
      await expectError(limited, 429, 'TOO_MANY_REQUESTS');
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
      const t = Number(/t=(\d+)/.exec(limited.headers.ratelimit)![1]);
      assert.ok(retryAfter >= t, 'Retry-After is not earlier than the RateLimit reset');
      assert.match(limited.headers.ratelimit, /r=0/);
    });

    it("one application's limit does not touch another's", async () => {
      const token = await b.token('globex-app', 'globex-secret');
      const res = await b.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'mine' });
      assert.equal(res.status, 201);
      await expectContract(res);
    });
  });

  describe('rate window', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({ bootstrap: bootstrapWithPlan({ rateLimit: { requests: 2, windowSeconds: 1 } }) });
    });
    after(() => gw.close());

    it('allows requests again once the window has passed', async () => {
      const token = await gw.token();
      const send = () => gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'w' });
      assert.equal((await send()).status, 201);
      assert.equal((await send()).status, 201);
      const limited = await send();
      assert.equal(limited.status, 429);
      await new Promise((r) => setTimeout(r, Number(limited.headers['retry-after']) * 1000 + 100));
      assert.equal((await send()).status, 201);
    });
  });

  describe('quota', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({ bootstrap: bootstrapWithPlan({ rateLimit: { requests: 100, windowSeconds: 1 }, quota: { requests: 3, period: 'day' } }) });
    });
    after(() => gw.close());

    it('429 QUOTA_EXCEEDED once the period quota is used, with Retry-After until the period ends', async () => {
      const token = await gw.token();
      const statuses = [];
      let last;
      for (let i = 0; i < 5; i++) {
        last = await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'q' });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
      await expectError(last!, 429, 'QUOTA_EXCEEDED');
      const retry = Number(last!.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 86_400, `Retry-After ${retry}`);
    });
  });

  describe('concurrent resources', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({ bootstrap: bootstrapWithPlan({ rateLimit: { requests: 100, windowSeconds: 1 }, maxConcurrentResources: 2 }) });
    });
    after(() => gw.close());

    it('429 QUOTA_EXCEEDED beyond the plan, and a slot frees when a resource ends', async () => {
      const token = await gw.token();
      const create = () => gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'held', delaySeconds: 600 });
      const first = await create();
      assert.equal((await create()).status, 201);
      await expectError(await create(), 429, 'QUOTA_EXCEEDED');
      assert.equal((await gw.http.delete(`/echo/v1/jobs/${first.body.jobId}`).set('Authorization', `Bearer ${token}`)).status, 204);
      assert.equal((await create()).status, 201);
      await expectError(await create(), 429, 'QUOTA_EXCEEDED');
      // The other tenant's application has its own allowance.
      const other = await gw.token('globex-app', 'globex-secret');
      assert.equal((await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${other}`).send({ message: 'x', delaySeconds: 600 })).status, 201);
    });

    it('a finished job gives its slot back', async () => {
      const token = await gw.token('globex-app', 'globex-secret');
      const quick = await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'quick' });
      assert.equal(quick.status, 201);
      for (let i = 0; i < 100 && (await gw.system.services.limits.inUse('globex-app', 'echo')) > 1; i++) await new Promise((r) => setTimeout(r, 30));
      assert.equal(await gw.system.services.limits.inUse('globex-app', 'echo'), 1);
    });
  });
});
