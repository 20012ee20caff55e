import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

/** Creates a job through the API and waits for a worker to finish it: the whole path over this Redis. */
async function roundTrip(gw: TestGateway): Promise<void> {
  const token = await gw.token();
  const created = await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({ message: 'topology' });
  assert.equal(created.status, 201, created.text);
  for (let i = 0; i < 200; i++) {
    const job = await gw.http.get(`/echo/v1/jobs/${created.body.jobId}`).set('Authorization', `Bearer ${token}`);
    if (job.body.status === 'DONE') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail('the job was not processed');
}

describe('Redis topologies', function () {
  this.timeout(60_000);

  describe('Redis Cluster (three masters)', () => {
    const nodes: RedisServer[] = [];
    const dirs: string[] = [];
    let url = '';

    before(async () => {
      for (let i = 0; i < 3; i++) {
        const dir = mkdtempSync(join(tmpdir(), 'eg-cluster-'));
        dirs.push(dir);
        nodes.push(await startRedisServer({ dir, appendOnly: false, extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }));
      }
      // Give each node a third of the 16384 slots and introduce them to each other.
      const clients = nodes.map((n) => new Redis(n.port, '127.0.0.1'));
      const third = Math.ceil(16384 / 3);
      await Promise.all(clients.map((c, i) => c.call('CLUSTER', 'ADDSLOTSRANGE', String(i * third), String(Math.min(16383, (i + 1) * third - 1)))));
      for (const n of nodes.slice(1)) await clients[0].call('CLUSTER', 'MEET', '127.0.0.1', String(n.port));
      for (let i = 0; i < 200; i++) {
        const states = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
        if (states.every((s) => s.includes('cluster_state:ok'))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      clients.forEach((c) => c.disconnect());
      url = `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    });

    it('runs the whole path with a hash-tagged prefix', async () => {
      const gw = await startTestGateway({ redisUrl: url, prefix: '{eg-cluster}' });
      try {
        await roundTrip(gw);
        assert.equal((await gw.http.get('/readyz')).status, 200);
      } finally {
        await gw.close();
      }
    });

    it('refuses a prefix without a hash tag, saying why', async () => {
      await assert.rejects(startTestGateway({ redisUrl: url, prefix: 'plain' }), /REDIS_PREFIX must start with a hash tag/);
    });
  });

  describe('Redis Sentinel', () => {
    let master: RedisServer;
    let sentinel: ChildProcess;
    let dir: string;
    let sentinelPort: number;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'eg-sentinel-'));
      master = await startRedisServer({ dir, appendOnly: false });
      sentinelPort = await freePort();
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`);
      sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`sentinel did not start:\n${out}`)), 10_000);
        sentinel.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('+monitor master mymaster')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      sentinel.stdout!.resume();
    });
    after(async () => {
      sentinel.kill('SIGTERM');
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('finds the master through the sentinel and runs the whole path', async () => {
      const gw = await startTestGateway({ redisUrl: `redis+sentinel://127.0.0.1:${sentinelPort}/mymaster` });
      try {
        await roundTrip(gw);
      } finally {
        await gw.close();
      }
    });
  });
});
