import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startDeviceFacingGateway, type DeviceFacingGateway } from './support/device-gateway.ts';
import { testBootstrap } from './support/gateway.ts';
import { DeviceEmulator } from './support/device.ts';

const REDIRECT = 'https://app.acme.example/callback';

describe('authorization requests per data-path address', function () {
  this.timeout(60_000);
  let fixture: DeviceFacingGateway;
  let base: string;

  before(async () => {
    const bootstrap = testBootstrap({ capabilities: ['echo', 'quality-on-demand', 'number-verification'] });
    bootstrap.tenants![0].applications![0] = { ...bootstrap.tenants![0].applications![0], redirectUris: [REDIRECT] } as never;
    fixture = await startDeviceFacingGateway({ bootstrap });
    base = fixture.baseUrl;
  });
  after(() => fixture?.close());

  const authorize = (address: string) => {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'acme-app',
      redirect_uri: REDIRECT,
      scope: 'openid number-verification:verify',
      state: 's',
      code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return new DeviceEmulator(base, { dataPathAddress: address }).get(`/oauth2/authorize?${q}`);
  };
  const outcome = (res: { status: number; headers: Record<string, unknown> }) => {
    assert.equal(res.status, 302);
    const back = new URL(String(res.headers.location)).searchParams;
    return back.get('error') ?? (back.get('code') ? 'code' : 'nothing');
  };

  it('the 31st request within a minute from one address is told to come back later; other addresses are not', async () => {
    const busy = '10.45.0.11';
    for (let i = 0; i < 30; i++) assert.equal(outcome(await authorize(busy)), 'code', `request ${i + 1}`);
    const refused = await authorize(busy);
    assert.equal(outcome(refused), 'temporarily_unavailable');
    assert.match(new URL(String(refused.headers.location)).searchParams.get('error_description')!, /retry in \d+ s/);
    assert.equal(outcome(await authorize('10.45.0.12')), 'code', 'another phone is unaffected');
  });

  it('Wi-Fi addresses are limited too, before the network is asked', async () => {
    for (let i = 0; i < 30; i++) assert.equal(outcome(await authorize('192.168.7.7')), 'login_required');
    assert.equal(outcome(await authorize('192.168.7.7')), 'temporarily_unavailable');
  });
});
