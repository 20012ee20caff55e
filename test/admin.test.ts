import assert from 'node:assert/strict';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';

describe('operator API /admin/v1', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  const admin = (method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string) =>
    gw.http[method](`/admin/v1${path}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);

  async function ok(res: Awaited<ReturnType<typeof admin>>, status = 200) {
    assert.equal(res.status, status, res.text);
    await expectContract(res);
    return res.body;
  }

  it('requires the operator token', async () => {
    await expectError(await gw.http.get('/admin/v1/tenants'), 401, 'UNAUTHENTICATED');
    await expectError(await gw.http.get('/admin/v1/tenants').set('Authorization', 'Bearer wrong-token-of-some-length'), 401, 'UNAUTHENTICATED');
    // A client's access token is not an operator token.
    await expectError(await gw.http.get('/admin/v1/tenants').set('Authorization', `Bearer ${await gw.token()}`), 401, 'UNAUTHENTICATED');
  });

  it('lists the capability catalog with scopes read from the documents', async () => {
    const catalog = await ok(await admin('get', '/capabilities'));
    const echo = catalog.find((c: { id: string }) => c.id === 'echo');
    assert.deepEqual(echo.scopes, ['echo:jobs:create', 'echo:jobs:delete', 'echo:jobs:read']);
    assert.deepEqual(echo.apis, [{ title: 'Echo', version: '1.0.0', basePath: '/echo/v1' }]);
  });

  it('creates, reads, lists tenants; a duplicate is 409 ALREADY_EXISTS; bad ids are 400', async () => {
    const t = await ok(await admin('post', '/tenants').send({ id: 'initech', name: 'Initech' }), 201);
    assert.equal(t.status, 'ACTIVE');
    assert.equal((await ok(await admin('get', '/tenants/initech'))).name, 'Initech');
    const all = await ok(await admin('get', '/tenants'));
    assert.deepEqual(all.map((x: { id: string }) => x.id), ['acme', 'globex', 'initech']);
    await expectError(await admin('post', '/tenants').send({ id: 'initech', name: 'again' }), 409, 'ALREADY_EXISTS');
    await expectError(await admin('post', '/tenants').send({ id: 'has space', name: 'x' }), 400, 'INVALID_ARGUMENT');
    await expectError(await admin('post', '/tenants').send({ id: 'x', name: 'x', extra: 1 }), 400, 'INVALID_ARGUMENT');
    await expectError(await admin('get', '/tenants/nope'), 404, 'NOT_FOUND');
  });

  it('returns a client secret once, stores it hashed, and rotates it', async () => {
    const created = await ok(await admin('post', '/tenants/acme/applications').send({ name: 'Mobile backend', notificationHosts: ['hooks.acme.example'] }), 201);
    const { clientId, clientSecret } = created;
    assert.ok(clientSecret.length >= 40);
    assert.equal(created.hasSecret, true);
    const read = await ok(await admin('get', `/tenants/acme/applications/${clientId}`));
    assert.equal(read.clientSecret, undefined, 'the secret is never returned again');
    assert.deepEqual(read.notificationHosts, ['hooks.acme.example']);
    const listed = await ok(await admin('get', '/tenants/acme/applications'));
    assert.ok(!JSON.stringify(listed).includes(clientSecret));
    // Stored hashed: the clear secret is nowhere in Redis.
    const redis = gw.system.services.redis;
    const stored = await redis.hgetall(gw.system.services.key('app', clientId));
    assert.ok(!JSON.stringify(stored).includes(clientSecret));
    assert.match(stored.secretHash, /^scrypt\$/);
    assert.equal((await gw.http.post('/oauth2/token').auth(clientId, clientSecret).type('form').send({ grant_type: 'client_credentials' })).status, 200);

    const rotated = await ok(await admin('post', `/tenants/acme/applications/${clientId}/secret`));
    assert.notEqual(rotated.clientSecret, clientSecret);
    assert.equal((await gw.http.post('/oauth2/token').auth(clientId, clientSecret).type('form').send({ grant_type: 'client_credentials' })).status, 401);
    assert.equal((await gw.http.post('/oauth2/token').auth(clientId, rotated.clientSecret).type('form').send({ grant_type: 'client_credentials' })).status, 200);
    assert.ok(!gw.logs.raw.includes(clientSecret) && !gw.logs.raw.includes(rotated.clientSecret), 'secrets never logged');
  });

  it('updates an application: name, JWKS and notification hosts', async () => {
    const { clientId } = await ok(await admin('post', '/tenants/acme/applications').send({ name: 'Before' }), 201);
    const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'a' }] };
    const updated = await ok(await admin('patch', `/tenants/acme/applications/${clientId}`).send({ name: 'After', jwks, notificationHosts: ['a.example'] }));
    assert.equal(updated.name, 'After');
    assert.deepEqual(updated.jwks, jwks);
    const cleared = await ok(await admin('patch', `/tenants/acme/applications/${clientId}`).send({ jwks: null }));
    assert.equal(cleared.jwks, undefined);
    await expectError(await admin('patch', `/tenants/acme/applications/${clientId}`).send({}), 400, 'INVALID_ARGUMENT');
    await expectError(await admin('patch', `/tenants/acme/applications/${clientId}`).send({ jwksUri: 'ftp://x' }), 400, 'INVALID_ARGUMENT');
  });

  it("never shows or changes one tenant's application through another tenant", async () => {
    await expectError(await admin('get', '/tenants/globex/applications/acme-app'), 404, 'NOT_FOUND');
    await expectError(await admin('post', '/tenants/globex/applications/acme-app/suspend'), 404, 'NOT_FOUND');
    await expectError(await admin('delete', '/tenants/globex/applications/acme-app'), 404, 'NOT_FOUND');
    await expectError(await admin('put', '/tenants/globex/applications/acme-app/subscriptions/echo').send({ plan: { rateLimit: { requests: 1, windowSeconds: 1 } } }), 404, 'NOT_FOUND');
    const globexApps = await ok(await admin('get', '/tenants/globex/applications'));
    assert.deepEqual(globexApps.map((a: { clientId: string }) => a.clientId), ['globex-app']);
    assert.equal((await ok(await admin('get', '/tenants/acme/applications/acme-app'))).status, 'ACTIVE');
  });

  it('manages subscriptions with plans; unknown capabilities are 404', async () => {
    const base = '/tenants/globex/applications/globex-app/subscriptions';
    const subs = await ok(await admin('get', base));
    assert.deepEqual(subs.map((s: { capability: string }) => s.capability), ['echo']);
    const plan = { rateLimit: { requests: 5, windowSeconds: 2 }, quota: { requests: 1000, period: 'month' }, maxConcurrentResources: 3, limits: { allowedQosProfiles: ['QOS_E'] } };
    const put = await ok(await admin('put', `${base}/echo`).send({ plan }));
    assert.deepEqual(put.plan, plan);
    assert.deepEqual((await ok(await admin('get', `${base}/echo`))).plan, plan);
    assert.equal((await ok(await admin('post', `${base}/echo/suspend`))).status, 'SUSPENDED');
    // Changing the plan keeps the suspension.
    assert.equal((await ok(await admin('put', `${base}/echo`).send({ plan }))).status, 'SUSPENDED');
    assert.equal((await ok(await admin('post', `${base}/echo/resume`))).status, 'ACTIVE');
    await expectError(await admin('put', `${base}/no-such-capability`).send({ plan }), 404, 'NOT_FOUND');
    await expectError(await admin('put', `${base}/echo`).send({ plan: { rateLimit: { requests: 0, windowSeconds: 1 } } }), 400, 'INVALID_ARGUMENT');
    await expectError(await admin('put', `${base}/echo`).send({ plan: { rateLimit: { requests: 5, windowSeconds: 1 }, bogus: true } }), 400, 'INVALID_ARGUMENT');
    await expectError(await admin('get', '/tenants/globex/applications/nope/subscriptions'), 404, 'NOT_FOUND');
  });

  it('suspends and resumes tenants and applications', async () => {
    assert.equal((await ok(await admin('post', '/tenants/globex/suspend'))).status, 'SUSPENDED');
    assert.equal((await ok(await admin('get', '/tenants/globex'))).status, 'SUSPENDED');
    assert.equal((await ok(await admin('post', '/tenants/globex/resume'))).status, 'ACTIVE');
    assert.equal((await ok(await admin('post', '/tenants/globex/applications/globex-app/suspend'))).status, 'SUSPENDED');
    assert.equal((await ok(await admin('post', '/tenants/globex/applications/globex-app/resume'))).status, 'ACTIVE');
  });

  it('counts usage per operation and status class', async () => {
    const token = await gw.token('globex-app', 'globex-secret');
    for (let i = 0; i < 3; i++) await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: `m${i}` });
    await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ bad: true });
    await gw.http.get('/echo/v1/jobs/00000000-0000-4000-8000-000000000000').set('Authorization', `Bearer ${token}`);
    let today: { counters: Record<string, Record<string, number>> } | undefined;
    for (let i = 0; i < 20; i++) {
      const usage = await ok(await admin('get', '/tenants/globex/applications/globex-app/usage?days=2'));
      assert.equal(usage.length, 2);
      today = usage[0];
      if (today!.counters['echo.getEchoJob']) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(today!.counters['echo.createEchoJob'], { '2xx': 3, '4xx': 1 });
    assert.deepEqual(today!.counters['echo.getEchoJob'], { '4xx': 1 });
    await expectError(await admin('get', '/tenants/globex/applications/globex-app/usage?days=0'), 400, 'INVALID_ARGUMENT');
    // Another process counts in memory and writes its counts within a moment, and at the latest when it stops.
    const other = await startTestGateway({ prefix: gw.config.redisPrefix, roles: ['gateway'] });
    const expected: Record<string, number> = { '2xx': 3, '4xx': 1 };
    for (let i = 0; i < 2; i++) {
      const res = await other.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: `o${i}` });
      const cls = `${Math.floor(res.status / 100)}xx`;
      expected[cls] = (expected[cls] ?? 0) + 1;
    }
    await other.close();
    const after = await ok(await admin('get', '/tenants/globex/applications/globex-app/usage?days=1'));
    assert.deepEqual(after[0].counters['echo.createEchoJob'], expected);
    await expectError(await admin('get', '/tenants/acme/applications/globex-app/usage'), 404, 'NOT_FOUND');
  });

  it('deletes an application', async () => {
    const { clientId } = await ok(await admin('post', '/tenants/acme/applications').send({ name: 'temp' }), 201);
    assert.equal((await admin('delete', `/tenants/acme/applications/${clientId}`)).status, 204);
    await expectError(await admin('get', `/tenants/acme/applications/${clientId}`), 404, 'NOT_FOUND');
  });

  it('refuses an application that could never authenticate', async () => {
    await expectError(await admin('post', '/tenants/acme/applications').send({ name: 'nothing', clientSecret: false }), 400, 'INVALID_ARGUMENT');
  });
});
