/**
 * Device identification fed by RADIUS accounting, end to end: the packet gateway (radclient)
 * reports who holds an address; a phone at that address goes through the network-based
 * authorization flow; the app's backend learns the number from Number Verification.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startDeviceFacingGateway, type DeviceFacingGateway } from './support/device-gateway.ts';
import { testBootstrap, type TestGateway } from './support/gateway.ts';
import { DeviceEmulator } from './support/device.ts';
import { radclient, record } from './support/radclient.ts';

const SECRET = 'radius-shared-secret';
const REDIRECT = 'https://app.acme.example/callback';
/** An address outside the simulated UE table: only RADIUS can name its subscriber. */
const ADDRESS = '100.64.7.9';

describe('device identification from RADIUS accounting', function () {
  this.timeout(60_000);
  let fixture: DeviceFacingGateway;
  let gw: TestGateway;
  let base: string;
  let radiusPort: number;

  before(async () => {
    const bootstrap = testBootstrap({ capabilities: ['echo', 'quality-on-demand', 'number-verification'] });
    bootstrap.tenants![0].applications![0] = { ...bootstrap.tenants![0].applications![0], redirectUris: [REDIRECT] } as never;
    fixture = await startDeviceFacingGateway({ bootstrap, config: { radius: { port: 0, host: '127.0.0.1', secret: SECRET } } });
    ({ gw, baseUrl: base } = fixture);
    radiusPort = gw.system.radius!.port;
  });
  after(() => fixture?.close());

  const accounting = async (status: string, msisdn: string, session: string) => {
    const r = await radclient(radiusPort, record(status, { ip: ADDRESS, msisdn, session }), { secret: SECRET });
    assert.ok(r.answered, `the gateway did not answer the ${status}: ${r.output}`);
  };

  /** The phone at ADDRESS logs in silently; returns the number the app's backend then reads, or the redirect's error. */
  async function whoIsAt(): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'acme-app',
      redirect_uri: REDIRECT,
      scope: 'openid number-verification:device-phone-number:read',
      state: 's',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      prompt: 'none',
    });
    const res = await new DeviceEmulator(base, { dataPathAddress: ADDRESS }).get(`/oauth2/authorize?${q}`);
    assert.equal(res.status, 302, res.text);
    const back = new URL(String(res.headers.location)).searchParams;
    if (back.get('error')) return `error=${back.get('error')}`;
    const token = await gw.http.post('/oauth2/token').auth('acme-app', 'acme-secret').type('form').send({ grant_type: 'authorization_code', code: back.get('code'), redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(token.status, 200, token.text);
    const shared = await gw.http.get('/number-verification/v2/device-phone-number').set('Authorization', `Bearer ${token.body.access_token}`);
    assert.equal(shared.status, 200, shared.text);
    return shared.body.devicePhoneNumber;
  }

  it('an address nobody reported identifies nobody', async () => {
    assert.equal(await whoIsAt(), 'error=login_required');
  });

  it('Start names the subscriber; Stop and a Start for another subscriber move the address', async () => {
    await accounting('Start', '8613900000042', 'sess-42');
    assert.equal(await whoIsAt(), '+8613900000042');
    await accounting('Stop', '8613900000042', 'sess-42');
    assert.equal(await whoIsAt(), 'error=login_required', 'after Stop the address is nobody\'s');
    await accounting('Start', '8613900000043', 'sess-43');
    assert.equal(await whoIsAt(), '+8613900000043', 'the address now belongs to the new session');
  });

  it('a late Stop of the previous holder does not take the address from the current one', async () => {
    await accounting('Start', '8613900000044', 'sess-44');
    await accounting('Stop', '8613900000043', 'sess-43');
    assert.equal(await whoIsAt(), '+8613900000044');
  });

  it('a packet with the wrong secret changes nothing', async () => {
    const r = await radclient(radiusPort, record('Start', { ip: ADDRESS, msisdn: '8613900000099', session: 'evil' }), { secret: 'not-the-secret', timeoutSeconds: 1 });
    assert.equal(r.answered, false);
    assert.equal(await whoIsAt(), '+8613900000044');
  });
});
