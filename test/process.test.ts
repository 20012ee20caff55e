import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedisServer } from '../src/infra/redis-server.ts';
import { createRedis, waitReady } from '../src/infra/redis.ts';
import { spawn } from 'node:child_process';
import { ROOT, spawnGateway, type GatewayProcess } from './support/process.ts';
import { testRedisUrl } from './support/hooks.ts';

const NUMBER_KEY = 'ab'.repeat(32);
const ADMIN = 'process-test-admin-token';

async function demoToken(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('invoice-cloud-app:demo-secret-change-me').toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { access_token: string }).access_token;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the gateway as a process', function () {
  this.timeout(60_000);
  const running: GatewayProcess[] = [];
  const start = (env: Record<string, string>, args: string[] = []) => {
    const p = spawnGateway({ ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', ...env }, args);
    running.push(p);
    return p;
  };
  afterEach(() => {
    for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });

  it('SIGTERM drains an in-flight request, refuses new connections, and exits 0', async () => {
    const port = await freePort();
    const gw = start({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: `p-${randomUUID().slice(0, 8)}`, PORT: String(port) });
    await gw.waitFor(/gateway listening/);
    const token = await demoToken(port);

    // A request whose body is still arriving when SIGTERM comes.
    const body = JSON.stringify({ message: 'in flight' });
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.on('data', (c) => (response += c.toString()));
    const closed = new Promise((r) => socket.on('close', r));
    await new Promise((r) => socket.on('connect', r));
    socket.write(
      `POST /echo/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    await gw.waitFor(/shutting down/);
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'new connections are refused while draining');
    socket.write(body.slice(5));
    await closed;
    assert.match(response, /^HTTP\/1.1 201 /, `in-flight request completed: ${response}`);
    assert.equal(await gw.exited, 0);
    assert.match(gw.output(), /"msg":"stopped"/);
  });

  it('npm start without REDIS_URL runs a private append-only, noeviction redis-server, keeps data across restarts and stops it on exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-private-'));
    try {
      for (const round of [1, 2]) {
        const port = await freePort();
        const gw = start({ REDIS_DIR: dir, PORT: String(port) });
        const line = await gw.waitFor(/private redis-server ready/);
        const { url, pid } = JSON.parse(line) as { url: string; pid: number };
        await gw.waitFor(/gateway listening/);
        const bootstrap = JSON.parse(await gw.waitFor(/bootstrap applied/));
        assert.equal(bootstrap.tenantsCreated, round === 1 ? 1 : 0, 'bootstrap is idempotent across restarts');
        const redis = createRedis(url, 'command');
        await waitReady(redis, url);
        assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'yes']);
        assert.deepEqual(await redis.config('GET', 'appendfsync'), ['appendfsync', 'everysec']);
        assert.deepEqual(await redis.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
        redis.disconnect();
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(ready.status, 200);
        assert.ok(await demoToken(port));
        assert.equal(Number(readFileSync(join(dir, 'redis-server.pid'), 'utf8')), pid);
        gw.child.kill('SIGTERM');
        assert.equal(await gw.exited, 0);
        for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(alive(pid), false, 'the private redis-server stopped with the gateway');
        assert.equal(existsSync(join(dir, 'redis-server.pid')), false);
        assert.ok(existsSync(join(dir, 'appendonlydir')), 'append-only file kept');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a supervisor that stops `npm start` with SIGTERM stops the gateway and its private redis-server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-npm-'));
    const port = await freePort();
    // Signals reach npm only (as from `timeout`, a container runtime or a process manager).
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ADMIN_TOKEN: ADMIN, HOST: '127.0.0.1', PORT: String(port), REDIS_DIR: dir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => npm.on('exit', () => resolve()));
    try {
      for (let i = 0; i < 300 && !/gateway listening/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /gateway listening/, out);
      const { pid } = JSON.parse(out.split('\n').find((l) => /private redis-server ready/.test(l))!) as { pid: number };
      npm.kill('SIGTERM');
      await exited;
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(alive(pid), false, 'the private redis-server stopped');
      for (let i = 0; i < 50; i++) {
        const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => false, () => true);
        if (refused) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the gateway stopped too');
      for (let i = 0; i < 50 && !/"msg":"stopped"/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /"msg":"stopped"/, 'it shut down gracefully');
    } finally {
      npm.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints how to install Redis, not a stack trace, when redis-server is missing', async () => {
    const gw = start({ PATH: '/nonexistent', REDIS_DIR: mkdtempSync(join(tmpdir(), 'eg-noredis-')), PORT: String(await freePort()) });
    assert.equal(await gw.exited, 1);
    const out = gw.output();
    assert.match(out, /redis-server was not found/);
    assert.match(out, /apt-get install -y redis-server/);
    assert.match(out, /brew install redis/);
    assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
  });

  it('refuses a Redis whose eviction policy can drop jobs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-lru-'));
    const lru = await startRedisServer({ dir, appendOnly: false, extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const gw = start({ REDIS_URL: lru.url, PORT: String(await freePort()) });
      assert.equal(await gw.exited, 1);
      assert.match(gw.output(), /maxmemory-policy is "allkeys-lru"/);
      assert.match(gw.output(), /noeviction/);
    } finally {
      await lru.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('production refuses a missing ADMIN_TOKEN, a missing NUMBER_KEY and the demo client secret', async () => {
    const noToken = spawnGateway({ NODE_ENV: 'production', REDIS_URL: testRedisUrl(), PORT: String(await freePort()) });
    running.push(noToken);
    assert.equal(await noToken.exited, 1);
    assert.match(noToken.output(), /ADMIN_TOKEN must be set/);
    const noKey = spawnGateway({ NODE_ENV: 'production', ADMIN_TOKEN: 'prod-admin-token-0123456789', REDIS_URL: testRedisUrl(), PORT: String(await freePort()) });
    running.push(noKey);
    assert.equal(await noKey.exited, 1);
    assert.match(noKey.output(), /NUMBER_KEY must be set/);
    const demo = start({ NODE_ENV: 'production', NUMBER_KEY: NUMBER_KEY, REDIS_URL: testRedisUrl(), REDIS_PREFIX: `p-${randomUUID().slice(0, 8)}`, PORT: String(await freePort()) });
    assert.equal(await demo.exited, 1);
    assert.match(demo.output(), /demo client secret is refused/);
    const port = await freePort();
    const own = start({ NODE_ENV: 'production', NUMBER_KEY: NUMBER_KEY, DEMO_CLIENT_SECRET: 'a-real-secret-for-prod', REDIS_URL: testRedisUrl(), REDIS_PREFIX: `p-${randomUUID().slice(0, 8)}`, PORT: String(port) });
    await own.waitFor(/gateway listening/);
    own.child.kill('SIGTERM');
    assert.equal(await own.exited, 0);
  });

  it('runs simulators, gateway and worker roles as separate processes over a shared Redis', async () => {
    const prefix = `p-${randomUUID().slice(0, 8)}`;
    const port = await freePort();
    const [bearerPort, pcfPort, linePort, callbackPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const simulators = start(
      { BEARER_CONTROLLER_PORT: String(bearerPort), PCF_PORT: String(pcfPort), LINE_CONTROLLER_PORT: String(linePort), SIMULATOR_TIME_SCALE: '0.01' },
      ['--role=simulators'],
    );
    await simulators.waitFor(/simulated network running/);
    const network = {
      PCF_URL: `http://127.0.0.1:${pcfPort}`,
      SUBSCRIBER_API_URL: `http://127.0.0.1:${bearerPort}`,
      LINE_CONTROLLER_URL: `http://127.0.0.1:${linePort}`,
      N5_CALLBACK_PORT: String(callbackPort),
    };
    const gateway = start({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, PORT: String(port), ...network }, ['--role=gateway']);
    await gateway.waitFor(/gateway listening/);
    const token = await demoToken(port);
    const created = await fetch(`http://127.0.0.1:${port}/echo/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'split roles' }),
    });
    assert.equal(created.status, 201);
    const { jobId } = (await created.json()) as { jobId: string };
    const read = async () => (await (await fetch(`http://127.0.0.1:${port}/echo/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await read()).status, 'REQUESTED', 'no worker runs in the gateway-only process');

    const worker = start({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, ...network }, ['--role=worker']);
    await worker.waitFor(/workers running/);
    let status = '';
    for (let i = 0; i < 100 && status !== 'DONE'; i++) {
      status = (await read()).status;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 'DONE', 'the worker process ran the job');

    // A QoD session crosses all three: the gateway accepts it, the worker drives the PCF of the
    // simulators process, whose notification comes back to the worker's N5 callback server.
    const session = await fetch(`http://127.0.0.1:${port}/quality-on-demand/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device: { phoneNumber: '+8613900000077' }, applicationServer: { ipv4Address: '198.51.100.7' }, qosProfile: 'QOS_E', duration: 60 }),
    });
    assert.equal(session.status, 201);
    const { sessionId } = (await session.json()) as { sessionId: string };
    let qosStatus = '';
    for (let i = 0; i < 200 && qosStatus !== 'AVAILABLE'; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/quality-on-demand/v1/sessions/${sessionId}`, { headers: { authorization: `Bearer ${token}` } });
      qosStatus = ((await res.json()) as { qosStatus: string }).qosStatus;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(qosStatus, 'AVAILABLE');

    // A bandwidth boost too: the worker orders it from the simulators' OSS over TMF641.
    const lineUrl = `http://127.0.0.1:${port}/dedicated-line/v1/lines/dc-to-tax-hub-east`;
    const boost = await fetch(`${lineUrl}/bandwidth-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ bandwidthMbps: 100, duration: 600 }),
    });
    assert.equal(boost.status, 201);
    let inForce = 0;
    for (let i = 0; i < 200 && inForce !== 200; i++) {
      inForce = ((await (await fetch(lineUrl, { headers: { authorization: `Bearer ${token}` } })).json()) as { bandwidthInForceMbps: number }).bandwidthInForceMbps;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(inForce, 200, 'committed 100 + the boost');
    for (const p of [gateway, worker, simulators]) p.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([gateway.exited, worker.exited, simulators.exited]), [0, 0, 0]);
  });

  it('says when the port is taken, and leaves no redis-server behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-busy-'));
    const port = await freePort();
    const blocker = (await import('node:net')).createServer().listen(port, '127.0.0.1');
    try {
      const gw = start({ REDIS_DIR: dir, PORT: String(port) });
      const { pid } = JSON.parse(await gw.waitFor(/private redis-server ready/)) as { pid: number };
      assert.equal(await gw.exited, 1);
      assert.match(gw.output(), /port \d+ is already in use/);
      assert.doesNotMatch(gw.output(), /\n\s+at /, 'no stack trace');
      assert.equal(alive(pid), false, 'the private redis-server was stopped');
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses separate roles without a shared Redis, and unknown roles', async () => {
    const solo = start({ PORT: String(await freePort()) }, ['--role=worker']);
    assert.equal(await solo.exited, 1);
    assert.match(solo.output(), /needs a shared Redis: set REDIS_URL/);
    const bad = start({ REDIS_URL: testRedisUrl() }, ['--role=everything']);
    assert.equal(await bad.exited, 1);
    assert.match(bad.output(), /unknown role "everything"/);
  });
});
