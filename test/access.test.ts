import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair, importJWK, base64url, decodeProtectedHeader, type JWK } from 'jose';
import { ADMIN_TOKEN, PUBLIC_URL, startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';
import { createRedis, keyBuilder, waitReady } from '../src/infra/redis.ts';
import { Keyring } from '../src/auth/keyring.ts';
import { testRedisUrl } from './support/hooks.ts';

const JOB = '/echo/v1/jobs';

describe('access control on every API call', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  const call = (authorization?: string) => {
    const req = gw.http.post(JOB);
    if (authorization !== undefined) req.set('Authorization', authorization);
    return req.send({ message: 'hi' });
  };

  /** Signs with the gateway's real private key, for tokens its token endpoint would never issue. */
  async function signWithGatewayKey(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const redis = gw.system.services.redis;
    const kid = (await redis.get(gw.system.services.key('signing-keys', 'active')))!;
    const stored = JSON.parse((await redis.hget(gw.system.services.key('signing-keys'), kid))!) as { privateJwk: JWK };
    const key = await importJWK(stored.privateJwk, 'ES256');
    return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...header }).sign(key);
  }

  const baseClaims = () => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: PUBLIC_URL, aud: PUBLIC_URL, sub: 'acme-app', client_id: 'acme-app', tenant_id: 'acme', scope: 'echo:jobs:create', iat: now, exp: now + 300, jti: randomUUID() };
  };

  it('a valid token is accepted', async () => {
    const res = await call(`Bearer ${await gw.token()}`);
    assert.equal(res.status, 201, res.text);
    await expectContract(res);
  });

  it('no token: 401 UNAUTHENTICATED with a bare Bearer challenge', async () => {
    const res = await call();
    await expectError(res, 401, 'UNAUTHENTICATED');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="exposure-gateway"');
  });

  it('a malformed header or a non-JWT: 401 with error="invalid_token"', async () => {
    for (const h of ['Basic YWNtZTpzZWNyZXQ=', 'Bearer', 'Bearer not.a.jwt', 'Bearer a b']) {
      const res = await call(h);
      await expectError(res, 401, 'UNAUTHENTICATED');
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
    }
  });

  it('an expired token: 401 UNAUTHENTICATED', async () => {
    const token = await gw.mint({ sub: 'acme-app', client_id: 'acme-app', tenant_id: 'acme', scope: 'echo:jobs:create' }, -120);
    await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
  });

  it('a token without exp is refused even when its signature is good', async () => {
    const { exp: _exp, ...claims } = baseClaims();
    await expectError(await call(`Bearer ${await signWithGatewayKey(claims)}`), 401, 'UNAUTHENTICATED');
    // The same claims with exp pass: the refusal is about exp alone.
    assert.equal((await call(`Bearer ${await signWithGatewayKey(baseClaims())}`)).status, 201);
  });

  it('alg none: 401', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
    await expectError(await call(`Bearer ${header}.${base64url.encode(JSON.stringify(baseClaims()))}.`), 401, 'UNAUTHENTICATED');
  });

  it('HS256 signed with the public key (algorithm confusion): 401', async () => {
    const jwks = (await gw.http.get('/oauth2/jwks')).body as { keys: JWK[] };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const token = await new SignJWT(baseClaims()).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0].kid, typ: 'at+jwt' }).sign(secret);
    await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
  });

  it('signed by another key under our kid: 401', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const kid = decodeProtectedHeader(await gw.token()).kid;
    const token = await new SignJWT(baseClaims()).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey);
    await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
  });

  it('wrong audience, wrong issuer or wrong typ: 401', async () => {
    await expectError(await call(`Bearer ${await signWithGatewayKey({ ...baseClaims(), aud: 'https://other.example' })}`), 401, 'UNAUTHENTICATED');
    await expectError(await call(`Bearer ${await signWithGatewayKey({ ...baseClaims(), iss: 'https://other.example' })}`), 401, 'UNAUTHENTICATED');
    await expectError(await call(`Bearer ${await signWithGatewayKey(baseClaims(), { typ: 'JWT' })}`), 401, 'UNAUTHENTICATED');
  });

  it('a token for a client that no longer exists: 401', async () => {
    const token = await gw.mint({ sub: 'ghost', client_id: 'ghost', tenant_id: 'acme', scope: 'echo:jobs:create' });
    await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
  });

  describe('scopes', () => {
    it('a token without the operation scope: 403 PERMISSION_DENIED with insufficient_scope', async () => {
      const readOnly = await gw.token('acme-app', 'acme-secret', 'echo:jobs:read');
      const res = await call(`Bearer ${readOnly}`);
      await expectError(res, 403, 'PERMISSION_DENIED');
      assert.match(res.headers['www-authenticate'], /error="insufficient_scope", scope="echo:jobs:create"/);
    });

    it('each operation checks its own scope', async () => {
      const createOnly = await gw.token('acme-app', 'acme-secret', 'echo:jobs:create');
      const created = await call(`Bearer ${createOnly}`);
      assert.equal(created.status, 201);
      const id = created.body.jobId;
      await expectError(await gw.http.get(`${JOB}/${id}`).set('Authorization', `Bearer ${createOnly}`), 403, 'PERMISSION_DENIED');
      await expectError(await gw.http.delete(`${JOB}/${id}`).set('Authorization', `Bearer ${createOnly}`), 403, 'PERMISSION_DENIED');
      const reader = await gw.token('acme-app', 'acme-secret', 'echo:jobs:read echo:jobs:delete');
      assert.equal((await gw.http.get(`${JOB}/${id}`).set('Authorization', `Bearer ${reader}`)).status, 200);
      assert.equal((await gw.http.delete(`${JOB}/${id}`).set('Authorization', `Bearer ${reader}`)).status, 204);
    });
  });

  describe('suspension and subscriptions take effect on tokens already issued', () => {
    const admin = (method: 'post' | 'put' | 'delete', path: string) => gw.http[method](`/admin/v1${path}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);

    it('suspended subscription, application or tenant: 403; resumed: allowed again', async () => {
      const token = await gw.token('globex-app', 'globex-secret');
      const app = '/tenants/globex/applications/globex-app';
      for (const [suspend, resume] of [
        [`${app}/subscriptions/echo/suspend`, `${app}/subscriptions/echo/resume`],
        [`${app}/suspend`, `${app}/resume`],
        ['/tenants/globex/suspend', '/tenants/globex/resume'],
      ]) {
        assert.equal((await admin('post', suspend)).status, 200);
        await expectError(await call(`Bearer ${token}`), 403, 'PERMISSION_DENIED');
        assert.equal((await admin('post', resume)).status, 200);
        assert.equal((await call(`Bearer ${token}`)).status, 201, `after ${resume}`);
      }
    });

    it('a removed subscription: 403, and new tokens lose its scopes', async () => {
      const created = await admin('post', '/tenants/globex/applications').send({ name: 'short-lived' });
      const { clientId, clientSecret } = created.body;
      await admin('put', `/tenants/globex/applications/${clientId}/subscriptions/echo`).send({ plan: { rateLimit: { requests: 10, windowSeconds: 1 } } });
      const token = await gw.token(clientId, clientSecret);
      assert.equal((await call(`Bearer ${token}`)).status, 201);
      assert.equal((await admin('delete', `/tenants/globex/applications/${clientId}/subscriptions/echo`)).status, 204);
      await expectError(await call(`Bearer ${token}`), 403, 'PERMISSION_DENIED');
      const fresh = await gw.http.post('/oauth2/token').auth(clientId, clientSecret).type('form').send({ grant_type: 'client_credentials' });
      assert.equal(fresh.body.scope, '');
    });

    it('another gateway process of the deployment applies a change at once, though it serves from its cache', async () => {
      const other = await startTestGateway({ prefix: gw.config.redisPrefix, roles: ['gateway'] });
      try {
        const token = await gw.token('globex-app', 'globex-secret');
        const callOther = () => other.http.post(JOB).set('Authorization', `Bearer ${token}`).send({ message: 'hi' });
        assert.equal((await callOther()).status, 201, 'the other process has the rights cached now');
        assert.equal((await admin('post', '/tenants/globex/applications/globex-app/suspend')).status, 200);
        await expectError(await callOther(), 403, 'PERMISSION_DENIED');
        assert.equal((await admin('post', '/tenants/globex/applications/globex-app/resume')).status, 200);
        assert.equal((await callOther()).status, 201);
      } finally {
        await other.close();
      }
    });

    it('a deleted application: its tokens stop working (401)', async () => {
      const created = await admin('post', '/tenants/globex/applications').send({ name: 'to delete' });
      const { clientId, clientSecret } = created.body;
      await admin('put', `/tenants/globex/applications/${clientId}/subscriptions/echo`).send({ plan: { rateLimit: { requests: 10, windowSeconds: 1 } } });
      const token = await gw.token(clientId, clientSecret);
      assert.equal((await admin('delete', `/tenants/globex/applications/${clientId}`)).status, 204);
      await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
    });
  });

  describe('tenant isolation', () => {
    it("a client never sees or touches another tenant's resources", async () => {
      const acme = await gw.token('acme-app', 'acme-secret');
      const globex = await gw.token('globex-app', 'globex-secret');
      const created = await gw.http.post(JOB).set('Authorization', `Bearer ${acme}`).send({ message: 'acme only', delaySeconds: 60 });
      assert.equal(created.status, 201);
      const path = `${JOB}/${created.body.jobId}`;
      const peek = await gw.http.get(path).set('Authorization', `Bearer ${globex}`);
      await expectError(peek, 404, 'NOT_FOUND');
      assert.ok(!peek.text.includes('acme only'));
      await expectError(await gw.http.delete(path).set('Authorization', `Bearer ${globex}`), 404, 'NOT_FOUND');
      const own = await gw.http.get(path).set('Authorization', `Bearer ${acme}`);
      assert.equal(own.status, 200);
      assert.equal(own.body.message, 'acme only');
      await expectContract(own);
    });

    it('a token claiming another tenant for a client is refused', async () => {
      const token = await gw.mint({ sub: 'acme-app', client_id: 'acme-app', tenant_id: 'globex', scope: 'echo:jobs:create' });
      await expectError(await call(`Bearer ${token}`), 401, 'UNAUTHENTICATED');
    });
  });
});

describe('Keyring', () => {
  it('drops a retired key once every token it signed has expired', async () => {
    const redis = createRedis(testRedisUrl(), 'command');
    try {
      await waitReady(redis, testRedisUrl());
      const keyring = new Keyring(redis, keyBuilder(`kr-${randomUUID().slice(0, 6)}`), { maxTokenLifetimeSeconds: 1 });
      await keyring.init();
      const opts = { issuer: 'i', audience: 'a', clockToleranceSeconds: 0 };
      const old = await keyring.sign({ iss: 'i', aud: 'a' }, 60);
      await keyring.rotate();
      assert.equal((await keyring.jwks()).keys.length, 2);
      await keyring.verify(old, opts);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await keyring.jwks()).keys.length, 1);
      await assert.rejects(keyring.verify(old, opts));
      const fresh = await keyring.sign({ iss: 'i', aud: 'a' }, 60);
      assert.ok((await keyring.verify(fresh, opts)).jti);
    } finally {
      redis.disconnect();
    }
  });
});
