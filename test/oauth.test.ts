import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK, createLocalJWKSet, jwtVerify, decodeProtectedHeader, base64url, type CryptoKey, type JWK } from 'jose';
import { ADMIN_TOKEN, PUBLIC_URL, startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract } from './support/contract.ts';
import { JWT_BEARER_ASSERTION } from '../src/auth/client-auth.ts';

const TOKEN_URL = `${PUBLIC_URL}/oauth2/token`;

interface KeyClient {
  clientId: string;
  privateKey: CryptoKey;
  alg: string;
}

async function registerKeyClient(gw: TestGateway, alg: 'ES256' | 'RS256' | 'EdDSA'): Promise<KeyClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg, use: 'sig' };
  const clientId = `keyclient-${alg.toLowerCase()}-${randomUUID().slice(0, 6)}`;
  const res = await gw.http
    .post('/admin/v1/tenants/acme/applications')
    .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ clientId, name: 'key client', jwks: { keys: [jwk] }, clientSecret: false });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.clientSecret, undefined, 'a key-only client gets no secret');
  const sub = await gw.http
    .put(`/admin/v1/tenants/acme/applications/${clientId}/subscriptions/echo`)
    .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ plan: { rateLimit: { requests: 100, windowSeconds: 1 } } });
  assert.equal(sub.status, 200, sub.text);
  return { clientId, privateKey, alg };
}

function assertion(c: KeyClient, overrides: { aud?: string; exp?: number | null; jti?: string | null; iss?: string; alg?: string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: overrides.iss ?? c.clientId, sub: c.clientId, aud: overrides.aud ?? PUBLIC_URL, iat: now };
  if (overrides.exp !== null) payload.exp = overrides.exp ?? now + 60;
  if (overrides.jti !== null) payload.jti = overrides.jti ?? randomUUID();
  return new SignJWT(payload).setProtectedHeader({ alg: overrides.alg ?? c.alg, kid: 'k1', typ: 'client-authentication+jwt' }).sign(c.privateKey);
}

describe('OAuth2 token endpoint', () => {
  let gw: TestGateway;
  let es: KeyClient;

  before(async () => {
    gw = await startTestGateway();
    es = await registerKeyClient(gw, 'ES256');
  });
  after(() => gw.close());

  const tokenRequest = () => gw.http.post('/oauth2/token').type('form');
  const withAssertion = (jwt: string, extra: Record<string, string> = {}) =>
    tokenRequest().send({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: jwt, ...extra });

  function assertOAuthError(res: { status: number; body: { error?: string }; headers: Record<string, string> }, status: number, error: string) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error, error);
    assert.equal(res.headers['cache-control'], 'no-store');
  }

  describe('client_secret_basic', () => {
    it('issues an ES256 access token with kid, verifiable with the published JWKS', async () => {
      const res = await tokenRequest().auth('acme-app', 'acme-secret').send({ grant_type: 'client_credentials' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.expires_in, gw.config.accessTokenTtlSeconds);
      assert.equal(res.body.scope, 'echo:jobs:create echo:jobs:delete echo:jobs:read');
      const header = decodeProtectedHeader(res.body.access_token);
      assert.equal(header.alg, 'ES256');
      assert.equal(header.typ, 'at+jwt');
      assert.ok(header.kid);
      const jwks = await gw.http.get('/oauth2/jwks');
      assert.equal(jwks.status, 200);
      for (const k of jwks.body.keys) assert.equal(k.d, undefined, 'JWKS never contains private parts');
      const { payload } = await jwtVerify(res.body.access_token, createLocalJWKSet(jwks.body), { issuer: PUBLIC_URL, audience: PUBLIC_URL, algorithms: ['ES256'] });
      assert.equal(payload.client_id, 'acme-app');
      assert.equal(payload.tenant_id, 'acme');
      assert.ok(payload.exp! > payload.iat!);
      assert.ok(payload.jti);
    });

    it('wrong secret: 401 invalid_client with a Basic challenge', async () => {
      const res = await tokenRequest().auth('acme-app', 'wrong').send({ grant_type: 'client_credentials' });
      assertOAuthError(res, 401, 'invalid_client');
      assert.match(res.headers['www-authenticate'], /^Basic/);
    });

    it('unknown client: 401 invalid_client', async () => {
      assertOAuthError(await tokenRequest().auth('nobody', 'x').send({ grant_type: 'client_credentials' }), 401, 'invalid_client');
    });

    it('malformed Basic credentials: 401 invalid_client', async () => {
      assertOAuthError(await tokenRequest().set('Authorization', 'Basic !!!notbase64').send({ grant_type: 'client_credentials' }), 401, 'invalid_client');
    });
  });

  describe('client_secret_post', () => {
    it('issues a token', async () => {
      const res = await tokenRequest().send({ grant_type: 'client_credentials', client_id: 'acme-app', client_secret: 'acme-secret' });
      assert.equal(res.status, 200, res.text);
    });

    it('wrong secret and missing client_id: invalid_client / invalid_request', async () => {
      assertOAuthError(await tokenRequest().send({ grant_type: 'client_credentials', client_id: 'acme-app', client_secret: 'nope' }), 401, 'invalid_client');
      assertOAuthError(await tokenRequest().send({ grant_type: 'client_credentials', client_secret: 'acme-secret' }), 400, 'invalid_request');
    });

    it('two authentication methods at once: 400 invalid_request', async () => {
      const res = await tokenRequest().auth('acme-app', 'acme-secret').send({ grant_type: 'client_credentials', client_id: 'acme-app', client_secret: 'acme-secret' });
      assertOAuthError(res, 400, 'invalid_request');
    });
  });

  describe('private_key_jwt (RFC 7523)', () => {
    it('issues a token for an ES256 assertion with aud = issuer', async () => {
      const res = await withAssertion(await assertion(es));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.scope, 'echo:jobs:create echo:jobs:delete echo:jobs:read');
    });

    it('accepts the token endpoint URL as aud, and RS256 and EdDSA keys', async () => {
      assert.equal((await withAssertion(await assertion(es, { aud: TOKEN_URL }))).status, 200);
      for (const alg of ['RS256', 'EdDSA'] as const) {
        const c = await registerKeyClient(gw, alg);
        const res = await withAssertion(await assertion(c));
        assert.equal(res.status, 200, `${alg}: ${res.text}`);
      }
    });

    it('fetches the keys of a client registered with a JWKS URI', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
      let fetched = 0;
      const server = createServer((_req, res) => {
        fetched++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(jwks));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const clientId = `uri-client-${randomUUID().slice(0, 6)}`;
        const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
        const created = await gw.http
          .post('/admin/v1/tenants/acme/applications')
          .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
          .send({ clientId, name: 'uri client', jwksUri, clientSecret: false });
        assert.equal(created.status, 201, created.text);
        const client = { clientId, privateKey, alg: 'ES256' };
        assert.equal((await withAssertion(await assertion(client))).status, 200);
        assert.equal((await withAssertion(await assertion(client))).status, 200);
        assert.equal(fetched, 1, 'the JWKS is cached between assertions');
        const { privateKey: other } = await generateKeyPair('ES256');
        assertOAuthError(await withAssertion(await assertion({ ...client, privateKey: other })), 401, 'invalid_client');
      } finally {
        server.close();
      }
    });

    it('a replayed jti: 401 invalid_client', async () => {
      const jwt = await assertion(es);
      assert.equal((await withAssertion(jwt)).status, 200);
      assertOAuthError(await withAssertion(jwt), 401, 'invalid_client');
    });

    it('an expired assertion: 401 invalid_client', async () => {
      const past = Math.floor(Date.now() / 1000) - 120;
      assertOAuthError(await withAssertion(await assertion(es, { exp: past })), 401, 'invalid_client');
    });

    it('an assertion without exp, or without jti: 401 invalid_client', async () => {
      assertOAuthError(await withAssertion(await assertion(es, { exp: null })), 401, 'invalid_client');
      assertOAuthError(await withAssertion(await assertion(es, { jti: null })), 401, 'invalid_client');
    });

    it('an assertion valid for too long: 401 invalid_client', async () => {
      const far = Math.floor(Date.now() / 1000) + 24 * 3600;
      assertOAuthError(await withAssertion(await assertion(es, { exp: far })), 401, 'invalid_client');
    });

    it('alg none: 401 invalid_client', async () => {
      const now = Math.floor(Date.now() / 1000);
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      const body = base64url.encode(JSON.stringify({ iss: es.clientId, sub: es.clientId, aud: PUBLIC_URL, exp: now + 60, jti: randomUUID() }));
      assertOAuthError(await withAssertion(`${header}.${body}.`), 401, 'invalid_client');
    });

    it('signed by another key: 401 invalid_client', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      assertOAuthError(await withAssertion(await assertion({ ...es, privateKey })), 401, 'invalid_client');
    });

    it('wrong audience, or iss different from sub: 401 invalid_client', async () => {
      assertOAuthError(await withAssertion(await assertion(es, { aud: 'https://someone-else.example' })), 401, 'invalid_client');
      assertOAuthError(await withAssertion(await assertion(es, { iss: 'acme-app' })), 401, 'invalid_client');
    });

    it('a wrong client_assertion_type or a non-JWT: errors, never a token', async () => {
      const jwt = await assertion(es);
      assertOAuthError(await tokenRequest().send({ grant_type: 'client_credentials', client_assertion_type: 'urn:other', client_assertion: jwt }), 400, 'invalid_request');
      assertOAuthError(await withAssertion('not-a-jwt'), 401, 'invalid_client');
    });

    it('a client with a secret only cannot use private_key_jwt', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const jwt = await assertion({ clientId: 'acme-app', privateKey, alg: 'ES256' });
      assertOAuthError(await withAssertion(jwt), 401, 'invalid_client');
    });
  });

  describe('grants and scopes', () => {
    it('unsupported grant type and a missing grant type', async () => {
      assertOAuthError(await tokenRequest().auth('acme-app', 'acme-secret').send({ grant_type: 'password' }), 400, 'unsupported_grant_type');
      assertOAuthError(await tokenRequest().auth('acme-app', 'acme-secret').send({}), 400, 'invalid_request');
    });

    it('a request that is not form-encoded: 400 invalid_request', async () => {
      const res = await gw.http.post('/oauth2/token').auth('acme-app', 'acme-secret').send({ grant_type: 'client_credentials' });
      assertOAuthError(res, 400, 'invalid_request');
    });

    it('grants a requested subset of scopes', async () => {
      const res = await tokenRequest().auth('acme-app', 'acme-secret').send({ grant_type: 'client_credentials', scope: 'echo:jobs:read' });
      assert.equal(res.status, 200);
      assert.equal(res.body.scope, 'echo:jobs:read');
    });

    it('refuses scopes of capabilities the application is not subscribed to: invalid_scope', async () => {
      const res = await tokenRequest().auth('acme-app', 'acme-secret').send({ grant_type: 'client_credentials', scope: 'quality-on-demand:sessions:create' });
      assertOAuthError(res, 400, 'invalid_scope');
    });

    it('an application without subscriptions gets a token with no scopes', async () => {
      const created = await gw.http.post('/admin/v1/tenants/acme/applications').set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ name: 'unsubscribed' });
      const res = await tokenRequest().auth(created.body.clientId, created.body.clientSecret).send({ grant_type: 'client_credentials' });
      assert.equal(res.status, 200);
      assert.equal(res.body.scope, '');
      await expectContract(await gw.http.get('/healthz'));
    });

    it('a suspended application gets no token: unauthorized_client', async () => {
      const admin = (p: string) => gw.http.post(`/admin/v1/tenants/globex/applications/globex-app/${p}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      assert.equal((await admin('suspend')).status, 200);
      assertOAuthError(await tokenRequest().auth('globex-app', 'globex-secret').send({ grant_type: 'client_credentials' }), 400, 'unauthorized_client');
      assert.equal((await admin('resume')).status, 200);
      assert.equal((await tokenRequest().auth('globex-app', 'globex-secret').send({ grant_type: 'client_credentials' })).status, 200);
    });
  });

  it('publishes discovery metadata', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await gw.http.get(path);
      assert.equal(res.status, 200);
      assert.equal(res.body.issuer, PUBLIC_URL);
      assert.equal(res.body.token_endpoint, TOKEN_URL);
      assert.equal(res.body.jwks_uri, `${PUBLIC_URL}/oauth2/jwks`);
      assert.deepEqual(res.body.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
      assert.ok(res.body.scopes_supported.includes('echo:jobs:create'));
    }
  });

  it('never logs a secret or an assertion', async () => {
    const jwt = await assertion(es);
    await withAssertion(jwt);
    await tokenRequest().send({ grant_type: 'client_credentials', client_id: 'acme-app', client_secret: 'acme-secret' });
    assert.ok(gw.logs.lines.length > 0);
    assert.ok(!gw.logs.raw.includes('acme-secret'), 'client secret logged');
    assert.ok(!gw.logs.raw.includes(jwt), 'client assertion logged');
    assert.ok(!gw.logs.raw.includes('eyJ'), 'a JWT was logged');
  });
});

describe('signing-key rotation', () => {
  let gw: TestGateway;
  let peer: TestGateway;

  before(async () => {
    gw = await startTestGateway();
    // A second gateway process of the same deployment (same Redis data).
    peer = await startTestGateway({ prefix: gw.config.redisPrefix, roles: ['gateway'] });
  });
  after(async () => {
    await peer.close();
    await gw.close();
  });

  it('keeps accepting tokens of the previous key, publishes both, and every process follows', async () => {
    const before = await gw.token();
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await gw.http.post('/admin/v1/signing-keys/rotate').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    assert.equal(rotated.status, 200);
    await expectContract(rotated);
    assert.notEqual(rotated.body.kid, oldKid);
    const afterRotation = await gw.token();
    assert.equal(decodeProtectedHeader(afterRotation).kid, rotated.body.kid);
    const jwks = await peer.http.get('/oauth2/jwks');
    assert.deepEqual(jwks.body.keys.map((k: JWK) => k.kid).sort(), [oldKid, rotated.body.kid].sort());
    for (const api of [gw, peer]) {
      for (const token of [before, afterRotation]) {
        const res = await api.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'still valid' });
        assert.equal(res.status, 201, res.text);
      }
    }
    // The peer signs with the new key too.
    assert.equal(decodeProtectedHeader(await peer.token()).kid, rotated.body.kid);
    const listed = await gw.http.get('/admin/v1/signing-keys').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    await expectContract(listed);
    assert.equal(listed.body[0].kid, rotated.body.kid);
  });
});
