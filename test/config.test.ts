import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, interpolate, loadBootstrap, loadConfig } from '../src/infra/config.ts';
import { parseRedisUrl, redact, createRedis, waitReady, keyBuilder, type RedisClient } from '../src/infra/redis.ts';
import { TenancyStore } from '../src/tenancy/store.ts';
import { applyBootstrap, BootstrapError, DEMO_SECRET } from '../src/tenancy/bootstrap.ts';
import { verifySecret } from '../src/auth/secrets.ts';
import { testRedisUrl } from './support/hooks.ts';

describe('configuration', () => {
  it('has the documented defaults and generates an admin token outside production', () => {
    const c = loadConfig({}, { bootstrap: {} });
    assert.equal(c.port, 8080);
    assert.equal(c.publicUrl, 'http://localhost:8080');
    assert.equal(c.bootstrapPath, 'config/demo.yaml');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.redisUrl, undefined);
    assert.ok(c.adminTokenGenerated && c.adminToken.length >= 16);
  });

  it('reads PORT, ADMIN_TOKEN, GATEWAY_CONFIG, LOG_LEVEL, REDIS_URL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-cfg-'));
    const file = join(dir, 'b.yaml');
    writeFileSync(file, 'tenants:\n  - id: t\n    name: ${TENANT_NAME:-Default name}\n');
    const c = loadConfig({ PORT: '9001', ADMIN_TOKEN: 'x'.repeat(20), GATEWAY_CONFIG: file, LOG_LEVEL: 'debug', REDIS_URL: 'redis://r:1' });
    assert.equal(c.port, 9001);
    assert.equal(c.adminToken, 'x'.repeat(20));
    assert.equal(c.adminTokenGenerated, false);
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.redisUrl, 'redis://r:1');
    assert.equal(c.bootstrap.tenants![0].name, 'Default name');
    assert.equal(loadBootstrap(file, { TENANT_NAME: 'From env' }).tenants![0].name, 'From env');
  });

  it('says clearly what is wrong', () => {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }, { bootstrap: {} }), /ADMIN_TOKEN must be set/);
    assert.throws(() => loadConfig({ ADMIN_TOKEN: 'short' }, { bootstrap: {} }), /at least 16/);
    assert.throws(() => loadConfig({ PORT: 'eighty' }, { bootstrap: {} }), /PORT must be a non-negative integer/);
    assert.throws(() => loadConfig({ GATEWAY_CONFIG: '/nonexistent.yaml' }), (e: Error) => e instanceof ConfigError && /cannot read GATEWAY_CONFIG/.test(e.message));
    assert.throws(() => interpolate('${MISSING_VAR}', {}), /MISSING_VAR/);
  });

  it('parses single, TLS, sentinel and cluster Redis URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://:p%40ss@10.0.0.1:6380/2'), { kind: 'single', hosts: [{ host: '10.0.0.1', port: 6380 }], username: undefined, password: 'p@ss', db: 2, tls: false });
    assert.equal(parseRedisUrl('rediss://cache.example').tls, true);
    const s = parseRedisUrl('redis+sentinel://s1:26379,s2/mymaster/1');
    assert.equal(s.kind, 'sentinel');
    assert.equal(s.masterName, 'mymaster');
    assert.deepEqual(s.hosts, [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }]);
    assert.equal(s.db, 1);
    const c = parseRedisUrl('redis+cluster://a:7001,b:7002');
    assert.equal(c.kind, 'cluster');
    assert.equal(c.hosts.length, 2);
    assert.throws(() => parseRedisUrl('http://x'), /not a redis/);
    assert.throws(() => parseRedisUrl('redis+sentinel://s1'), /name the master/);
    assert.equal(redact('redis://user:secret@h:1'), 'redis://user:***@h:1');
  });
});

describe('bootstrap', () => {
  let redis: RedisClient;
  let store: TenancyStore;

  beforeEach(async () => {
    redis = createRedis(testRedisUrl(), 'command');
    await waitReady(redis, testRedisUrl());
    store = new TenancyStore(redis, keyBuilder(`b-${randomUUID().slice(0, 8)}`));
  });
  afterEach(() => redis.disconnect());

  const doc = () => ({
    plans: { gold: { rateLimit: { requests: 9, windowSeconds: 1 } } },
    tenants: [{ id: 'invoice-cloud', name: 'Invoice', applications: [{ clientId: 'app', name: 'App', clientSecret: 's3cret', subscriptions: [{ capability: '*', plan: 'gold' }] }] }],
  });

  it('is idempotent and never resets what the operator changed', async () => {
    const first = await applyBootstrap(store, doc(), ['echo', 'other'], { production: false });
    assert.deepEqual(first, { tenantsCreated: 1, applicationsCreated: 1, subscriptionsCreated: 2 });
    const newSecret = await store.rotateSecret('invoice-cloud', 'app');
    await store.putSubscription('app', 'echo', { rateLimit: { requests: 1, windowSeconds: 60 } });
    await store.setApplicationStatus('invoice-cloud', 'app', 'SUSPENDED');
    const second = await applyBootstrap(store, doc(), ['echo', 'other'], { production: false });
    assert.deepEqual(second, { tenantsCreated: 0, applicationsCreated: 0, subscriptionsCreated: 0 });
    assert.equal((await store.listTenants()).length, 1);
    assert.equal((await store.listApplications('invoice-cloud')).length, 1);
    assert.ok(await verifySecret(newSecret, await store.getSecretHash('app')), 'rotated secret kept');
    assert.equal((await store.getSubscription('app', 'echo'))!.plan.rateLimit.requests, 1, 'changed plan kept');
    assert.equal((await store.getApplication('app'))!.status, 'SUSPENDED', 'suspension kept');
  });

  it('subscribes to capabilities added later on the next start', async () => {
    await applyBootstrap(store, doc(), ['echo'], { production: false });
    const later = await applyBootstrap(store, doc(), ['echo', 'new-capability'], { production: false });
    assert.equal(later.subscriptionsCreated, 1);
  });

  it('refuses the demo secret in production, unknown plans and unknown capabilities', async () => {
    const demo = doc();
    demo.tenants[0].applications[0].clientSecret = DEMO_SECRET;
    await assert.rejects(applyBootstrap(store, demo, ['echo'], { production: true }), BootstrapError);
    const badPlan = doc();
    badPlan.tenants[0].applications[0].subscriptions[0].plan = 'platinum';
    await assert.rejects(applyBootstrap(store, badPlan, ['echo'], { production: false }), /plan "platinum" is not defined/);
    const badCap = doc();
    badCap.tenants[0].applications[0].subscriptions[0].capability = 'teleport';
    await assert.rejects(applyBootstrap(store, badCap, ['echo'], { production: false }), /"teleport" is not in the catalog/);
  });

  it('two bootstraps racing create everything exactly once', async () => {
    const results = await Promise.all([1, 2, 3].map(() => applyBootstrap(store, doc(), ['echo'], { production: false })));
    assert.equal(results.reduce((n, r) => n + r.tenantsCreated, 0), 1);
    assert.equal(results.reduce((n, r) => n + r.applicationsCreated, 0), 1);
    assert.equal(results.reduce((n, r) => n + r.subscriptionsCreated, 0), 1);
  });
});
