import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import type { SimulatedNetwork } from '../simulators/index.ts';
import { startDeviceFacingGateway, type DeviceFacingGateway } from './support/device-gateway.ts';
import { ADMIN_TOKEN, PUBLIC_URL, startTestGateway, testBootstrap, type TestGateway } from './support/gateway.ts';
import { DeviceEmulator, type DeviceOptions, type DeviceResponse } from './support/device.ts';
import { contractProblems, expectError } from './support/contract.ts';
import { NETWORK_AMR } from '../src/auth/authorize.ts';
import type { BootstrapDocument } from '../src/tenancy/bootstrap.ts';

const ueIp = (i: number) => `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const phone = (i: number) => `+86139000${String(i).padStart(5, '0')}`;
const CLEAR_NUMBER = /139000\d{5}/;
const REDIRECT = 'https://app.acme.example/callback';
const GLOBEX_REDIRECT = 'https://globex.example/cb';
const QOD = '/quality-on-demand/v1';
const NV_SCOPE = 'openid number-verification:verify';

/** The test tenants, with redirect URIs, plus an application subscribed to echo only. */
function oidcBootstrap(): BootstrapDocument {
  const base = testBootstrap({ capabilities: ['echo', 'quality-on-demand', 'number-verification'] });
  const uris: Record<string, string[]> = { 'acme-app': [REDIRECT, 'http://127.0.0.1:8099/cb'], 'globex-app': [GLOBEX_REDIRECT] };
  return {
    ...base,
    tenants: [
      ...base.tenants!.map((t) => ({ ...t, applications: t.applications!.map((a) => ({ ...a, redirectUris: uris[a.clientId] })) })),
      {
        id: 'initech',
        name: 'Initech',
        applications: [{ clientId: 'initech-app', name: 'Initech', clientSecret: 'initech-secret', redirectUris: ['https://initech.example/cb'], subscriptions: [{ capability: 'echo', plan: 'test' }] }],
      },
    ],
  };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The query of an authorization request; `undefined` values are left out. */
function authorizePath(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  return `/oauth2/authorize?${q}`;
}

/** Device responses travel over a real socket, past the harness's recorder: check them here. */
async function checked(res: DeviceResponse, method = 'GET'): Promise<DeviceResponse> {
  const problems = await contractProblems({ method, path: '/oauth2/authorize', status: res.status, headers: res.headers as Record<string, string>, text: res.text });
  assert.deepEqual(problems, []);
  return res;
}

/** The parameters a redirect carries back to the client. */
function redirected(res: DeviceResponse, redirectUri = REDIRECT): URLSearchParams {
  assert.equal(res.status, 302, `expected a redirect, got ${res.status} ${res.text}`);
  const location = String(res.headers.location);
  assert.ok(location.startsWith(`${redirectUri}?`), location);
  assert.equal(res.headers['cache-control'], 'no-store');
  return new URL(location).searchParams;
}

describe('OIDC authorization code flow with network-based authentication', function () {
  this.timeout(60_000);
  let fixture: DeviceFacingGateway;
  let net: SimulatedNetwork;
  let gw: TestGateway;
  let baseUrl: string;

  before(async () => {
    fixture = await startDeviceFacingGateway({ bootstrap: oidcBootstrap(), config: { accessTokenTtlSeconds: 3600 } });
    ({ net, gw, baseUrl } = fixture);
  });
  after(() => fixture?.close());

  const device = (i: number | string, options: DeviceOptions = {}) => new DeviceEmulator(baseUrl, { dataPathAddress: typeof i === 'number' ? ueIp(i) : i, ...options });

  /** The app on the device starts the flow; returns the redirect's parameters. */
  async function authorize(d: DeviceEmulator, params: Record<string, string | undefined> = {}, redirectUri = REDIRECT) {
    const { verifier, challenge } = pkce();
    const res = await checked(
      await d.get(
        authorizePath({
          response_type: 'code',
          client_id: 'acme-app',
          redirect_uri: redirectUri,
          scope: NV_SCOPE,
          state: 'st-1',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          prompt: 'none',
          ...params,
        }),
      ),
    );
    return { verifier, res, params: res.status === 302 ? redirected(res, params.redirect_uri ?? redirectUri) : new URLSearchParams() };
  }

  /** The app's backend redeems the code. */
  const exchange = (fields: Record<string, string | undefined>, client = 'acme-app', secret = client.replace(/-app$/, '-secret')) =>
    gw.http
      .post('/oauth2/token')
      .auth(client, secret)
      .type('form')
      .send(Object.fromEntries(Object.entries({ grant_type: 'authorization_code', redirect_uri: REDIRECT, ...fields }).filter(([, v]) => v !== undefined)));

  async function tokensFor(i: number, scope = NV_SCOPE, nonce?: string) {
    const { verifier, params } = await authorize(device(i), { scope, nonce });
    const res = await exchange({ code: params.get('code')!, code_verifier: verifier });
    assert.equal(res.status, 200, res.text);
    return res.body as { access_token: string; id_token: string; expires_in: number; scope: string; refresh_token?: string };
  }

  it('publishes the authorization endpoint and what it supports in the discovery document', async () => {
    const res = await gw.http.get('/.well-known/openid-configuration');
    assert.equal(res.status, 200);
    assert.equal(res.body.authorization_endpoint, `${PUBLIC_URL}/oauth2/authorize`);
    assert.deepEqual(res.body.response_types_supported, ['code']);
    assert.deepEqual(res.body.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(res.body.subject_types_supported, ['pairwise']);
    assert.deepEqual(res.body.id_token_signing_alg_values_supported, ['ES256']);
    assert.ok(res.body.grant_types_supported.includes('authorization_code'));
    assert.ok(res.body.scopes_supported.includes('number-verification:verify'));
  });

  it('authorizes a device on mobile data silently: 302 with a single-use code, state and iss', async () => {
    const { params } = await authorize(device(5));
    assert.equal(params.get('state'), 'st-1');
    assert.equal(params.get('iss'), PUBLIC_URL);
    assert.ok((params.get('code') ?? '').length >= 43, 'at least 256 bits');
    assert.equal(params.get('error'), null);
  });

  it('exchanges the code for an access token and an ID token bound to the subscriber, never a refresh token', async () => {
    const body = await tokensFor(5, NV_SCOPE, 'n-0S6_WzA2Mj');
    assert.equal(body.refresh_token, undefined);
    assert.equal(body.scope, 'number-verification:verify', 'openid is not an API scope');
    assert.ok(body.expires_in <= 300, `NV tokens live at most 300 s, got ${body.expires_in}`);
    const jwks = createLocalJWKSet((await gw.http.get('/oauth2/jwks')).body as { keys: JWK[] });
    const { payload: id, protectedHeader } = await jwtVerify(body.id_token, jwks, { issuer: PUBLIC_URL, audience: 'acme-app', typ: 'JWT', algorithms: ['ES256'] });
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(id.nonce, 'n-0S6_WzA2Mj');
    assert.deepEqual(id.amr, [NETWORK_AMR]);
    assert.equal(typeof id.auth_time, 'number');
    assert.equal(id.azp, 'acme-app');
    assert.equal(id.at_hash, createHash('sha256').update(body.access_token).digest().subarray(0, 16).toString('base64url'));
    const access = decodeJwt(body.access_token);
    assert.equal(access.sub, id.sub);
    assert.deepEqual(access.amr, [NETWORK_AMR]);
    assert.equal(access.client_id, 'acme-app');
    assert.equal(access.tenant_id, 'acme');
    assert.equal(typeof access.dev, 'string');
    assert.doesNotMatch(JSON.stringify([access, id]), CLEAR_NUMBER);
  });

  it('a QoD token from this flow is device-bound: create without device → 201 for that UE; with device → 422', async () => {
    const body = await tokensFor(7, 'openid quality-on-demand:sessions:create quality-on-demand:sessions:read');
    assert.equal(body.expires_in, 3600, 'only number-verification tokens are shortened');
    const session = { applicationServer: { ipv4Address: '198.51.100.10' }, applicationServerPorts: { ports: [443] }, qosProfile: 'QOS_S', duration: 60 };
    const created = await gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${body.access_token}`).send(session);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.device, undefined);
    const twoLegged = await gw.token('acme-app', 'acme-secret', 'quality-on-demand:sessions:retrieve-by-device');
    const mine = await gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', `Bearer ${twoLegged}`).send({ device: { phoneNumber: phone(7) } });
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.body.map((s: { sessionId: string }) => s.sessionId), [created.body.sessionId]);
    const named = await gw.http
      .post(`${QOD}/sessions`)
      .set('Authorization', `Bearer ${body.access_token}`)
      .send({ ...session, applicationServerPorts: { ports: [8443] }, device: { phoneNumber: phone(7) } });
    await expectError(named, 422, 'UNNECESSARY_IDENTIFIER');
  });

  it('a replayed code revokes its QoD token for every operation, not only those that need the device', async () => {
    const { verifier, params } = await authorize(device(8), { scope: 'openid quality-on-demand:sessions:create quality-on-demand:sessions:read' });
    const first = await exchange({ code: params.get('code')!, code_verifier: verifier });
    assert.equal(first.status, 200, first.text);
    const session = { applicationServer: { ipv4Address: '198.51.100.10' }, applicationServerPorts: { ports: [444] }, qosProfile: 'QOS_S', duration: 60 };
    const created = await gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${first.body.access_token}`).send(session);
    assert.equal(created.status, 201, created.text);
    assert.equal((await exchange({ code: params.get('code')!, code_verifier: verifier })).body.error, 'invalid_grant');
    const read = await gw.http.get(`${QOD}/sessions/${created.body.sessionId}`).set('Authorization', `Bearer ${first.body.access_token}`);
    await expectError(read, 401, 'UNAUTHENTICATED');
    assert.match(String(read.headers['www-authenticate']), /invalid_token/);
  });

  it('the subject is pairwise: two clients get different, number-free subjects for one subscriber', async () => {
    const acme = decodeJwt((await tokensFor(9)).access_token).sub!;
    const again = decodeJwt((await tokensFor(9)).access_token).sub!;
    const { verifier, params } = await authorize(device(9), { client_id: 'globex-app', redirect_uri: GLOBEX_REDIRECT });
    const globexRes = await exchange({ code: params.get('code')!, code_verifier: verifier, redirect_uri: GLOBEX_REDIRECT }, 'globex-app');
    assert.equal(globexRes.status, 200, globexRes.text);
    const globex = decodeJwt(globexRes.body.access_token).sub!;
    assert.equal(acme, again, 'stable for one client');
    assert.notEqual(acme, globex);
    for (const sub of [acme, globex]) assert.doesNotMatch(sub, /139000|00009/);
  });

  describe('token endpoint: redeeming a code', () => {
    it('a code works once: the second use is invalid_grant', async () => {
      const { verifier, params } = await authorize(device(11));
      assert.equal((await exchange({ code: params.get('code')!, code_verifier: verifier })).status, 200);
      const again = await exchange({ code: params.get('code')!, code_verifier: verifier });
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
    });

    it('a wrong code_verifier is invalid_grant, and the code is spent', async () => {
      const { verifier, params } = await authorize(device(12));
      const wrong = await exchange({ code: params.get('code')!, code_verifier: pkce().verifier });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error, 'invalid_grant');
      assert.equal((await exchange({ code: params.get('code')!, code_verifier: verifier })).body.error, 'invalid_grant');
    });

    it('a redirect_uri other than the authorization request one is invalid_grant', async () => {
      const { verifier, params } = await authorize(device(13), { redirect_uri: 'http://127.0.0.1:8099/cb' }, 'http://127.0.0.1:8099/cb');
      const res = await exchange({ code: params.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT });
      assert.equal(res.body.error, 'invalid_grant', res.text);
    });

    it("another client cannot redeem a client's code", async () => {
      const { verifier, params } = await authorize(device(14));
      const res = await exchange({ code: params.get('code')!, code_verifier: verifier }, 'globex-app');
      assert.equal(res.body.error, 'invalid_grant', res.text);
    });

    it('code_verifier is required and must be 43–128 unreserved characters: invalid_request', async () => {
      const { params } = await authorize(device(15));
      assert.equal((await exchange({ code: params.get('code')! })).body.error, 'invalid_request');
      assert.equal((await exchange({ code: params.get('code')!, code_verifier: 'short' })).body.error, 'invalid_request');
      assert.equal((await exchange({ code: 'made-up', code_verifier: pkce().verifier })).body.error, 'invalid_grant');
    });
  });

  describe('authorization errors', () => {
    const direct = async (res: DeviceResponse) => {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.headers.location, undefined, 'never redirected to an unverified URI');
      assert.equal(res.body.error, 'invalid_request');
    };

    it('an unregistered or missing redirect_uri, or an unknown client, is answered directly with 400', async () => {
      await direct((await authorize(device(5), { redirect_uri: 'https://evil.example/cb' })).res);
      await direct((await authorize(device(5), { redirect_uri: `${REDIRECT}/more` })).res);
      await direct((await authorize(device(5), { redirect_uri: undefined })).res);
      await direct((await authorize(device(5), { client_id: 'nobody-app' })).res);
      await direct((await authorize(device(5), { client_id: undefined })).res);
    });

    it('PKCE is required, S256 only: invalid_request back at the redirect URI with state', async () => {
      for (const params of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge_method: 'plain' }, { code_challenge_method: undefined }]) {
        const back = (await authorize(device(5), params)).params;
        assert.equal(back.get('error'), 'invalid_request', JSON.stringify(params));
        assert.equal(back.get('state'), 'st-1');
        assert.equal(back.get('code'), null);
      }
    });

    it('scope needs openid and only what the client is subscribed to: invalid_scope', async () => {
      assert.equal((await authorize(device(5), { scope: 'number-verification:verify' })).params.get('error'), 'invalid_scope');
      const initech = await authorize(device(5), { client_id: 'initech-app', redirect_uri: 'https://initech.example/cb' }, 'https://initech.example/cb');
      assert.equal(initech.params.get('error'), 'invalid_scope');
    });

    it('response_type other than code, and prompt asking for a page, are refused', async () => {
      assert.equal((await authorize(device(5), { response_type: 'token' })).params.get('error'), 'unsupported_response_type');
      assert.equal((await authorize(device(5), { prompt: 'login' })).params.get('error'), 'interaction_required');
      assert.ok((await authorize(device(5), { prompt: undefined })).params.get('code'), 'absent prompt is treated as none');
    });

    it('login_hint=tel: must be the device: the same number passes, another is access_denied', async () => {
      assert.ok((await authorize(device(5), { login_hint: `tel:${phone(5)}` })).params.get('code'));
      const other = (await authorize(device(5), { login_hint: `tel:${phone(6)}` })).params;
      assert.equal(other.get('error'), 'access_denied');
      assert.equal(other.get('state'), 'st-1');
    });

    it('a device on Wi-Fi, or a detached UE, is not identified: login_required', async () => {
      assert.equal((await authorize(device('192.168.1.23'))).params.get('error'), 'login_required');
      await net.control(`ues/${encodeURIComponent(phone(20))}/detach`);
      try {
        assert.equal((await authorize(device(20))).params.get('error'), 'login_required');
      } finally {
        await net.control(`ues/${encodeURIComponent(phone(20))}/attach`);
      }
      assert.ok((await authorize(device(20))).params.get('code'), 'attached again: identified');
    });

    it('accepts the request form-encoded by POST as well (OIDC Core §3.1.2.1)', async () => {
      const { verifier, challenge } = pkce();
      const form = new URLSearchParams({ response_type: 'code', client_id: 'acme-app', redirect_uri: REDIRECT, scope: NV_SCOPE, code_challenge: challenge, code_challenge_method: 'S256', state: 'p' });
      const res = await checked(await device(5).post('/oauth2/authorize', form.toString(), { 'content-type': 'application/x-www-form-urlencoded' }), 'POST');
      const params = redirected(res);
      assert.equal(params.get('state'), 'p');
      assert.equal((await exchange({ code: params.get('code')!, code_verifier: verifier })).status, 200);
    });
  });

  describe('forwarding headers are believed only from trusted proxies', () => {
    let proxied: TestGateway;
    let proxiedUrl: string;
    before(async () => {
      proxied = await startTestGateway({ network: net, bootstrap: oidcBootstrap(), config: { trustedProxies: ['127.0.0.2/32'] } });
      proxiedUrl = `http://127.0.0.1:${((await proxied.system.listen(0, '127.0.0.1')).address() as AddressInfo).port}`;
    });
    after(() => proxied?.close());

    const ask = (localAddress: string) =>
      new DeviceEmulator(proxiedUrl, { localAddress, headers: { 'x-forwarded-for': ueIp(5) } }).get(
        authorizePath({ response_type: 'code', client_id: 'acme-app', redirect_uri: REDIRECT, scope: NV_SCOPE, code_challenge: pkce().challenge, code_challenge_method: 'S256', state: 's' }),
      );

    it('a spoofed X-Forwarded-For from an untrusted peer identifies nobody: login_required', async () => {
      assert.equal(redirected(await checked(await ask('127.0.0.3'))).get('error'), 'login_required');
    });

    it('the same header from the trusted proxy identifies the device', async () => {
      assert.ok(redirected(await checked(await ask('127.0.0.2'))).get('code'));
    });
  });

  // Last, once every flow above has left its traces.
  describe('privacy', () => {
    it('no phone number in clear in Redis or in the logs', async () => {
      const redis = gw.system.services.redis;
      const leaks: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${gw.config.redisPrefix}:*`, 'COUNT', 500);
        cursor = next;
        for (const k of keys) {
          if (CLEAR_NUMBER.test(k)) leaks.push(k);
          const type = await redis.type(k);
          const value =
            type === 'string' ? await redis.get(k)
            : type === 'hash' ? JSON.stringify(await redis.hgetall(k))
            : type === 'set' ? JSON.stringify(await redis.smembers(k))
            : type === 'zset' ? JSON.stringify(await redis.zrange(k, '0', '-1'))
            : type === 'list' ? JSON.stringify(await redis.lrange(k, 0, -1))
            : type === 'stream' ? JSON.stringify(await redis.xrange(k, '-', '+'))
            : '';
          if (CLEAR_NUMBER.test(value ?? '')) leaks.push(`${k} (${type})`);
        }
      } while (cursor !== '0');
      assert.deepEqual(leaks, []);
      assert.doesNotMatch(gw.logs.raw, CLEAR_NUMBER);
    });
  });

  it('the operator API registers, replaces and validates redirect URIs', async () => {
    const admin = (req: ReturnType<typeof gw.http.post>) => req.set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    const created = await admin(gw.http.post('/admin/v1/tenants/acme/applications')).send({ clientId: 'acme-web', name: 'web', redirectUris: ['https://web.acme.example/cb', 'com.acme.app:/cb'] });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.redirectUris, ['https://web.acme.example/cb', 'com.acme.app:/cb']);
    const updated = await admin(gw.http.patch('/admin/v1/tenants/acme/applications/acme-web')).send({ redirectUris: ['https://web.acme.example/v2'] });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual((await admin(gw.http.get('/admin/v1/tenants/acme/applications/acme-web')).send()).body.redirectUris, ['https://web.acme.example/v2']);
    for (const bad of ['/relative/cb', 'https://web.acme.example/cb#frag', 'javascript:alert(1)']) {
      await expectError(await admin(gw.http.patch('/admin/v1/tenants/acme/applications/acme-web')).send({ redirectUris: [bad] }), 400, 'INVALID_ARGUMENT');
    }
  });
});
