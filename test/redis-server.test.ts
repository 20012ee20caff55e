import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BACKGROUND_NICE, startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import { until } from './support/wait.ts';

/** The fork children of `pid` (processes whose parent it is, not its threads) and their niceness, from /proc. */
function children(pid: number): Array<{ pid: number; nice: number }> {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        // After the command name (in parentheses, and it may hold spaces): state, ppid, ..., nice is field 19.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid ? [{ pid: Number(entry), nice: Number(fields[16]) }] : [];
      } catch {
        return []; // it exited meanwhile
      }
    });
}

describe('the private redis-server', function () {
  this.timeout(60_000);
  let dir: string;
  let server: RedisServer | undefined;
  let redis: Redis | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'eg-redis-server-'));
  });
  afterEach(async () => {
    redis?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a rewrite whose child lives long enough to be looked at: Redis's own test knob slows it per key. */
  async function slowRewrite(options: { backgroundNice?: number | null } = {}): Promise<{ pid: number; nice: number }> {
    server = await startRedisServer({ dir, appendOnly: true, ...options });
    redis = new Redis(server.url);
    await redis.mset('a', '1', 'b', '2', 'c', '3');
    await redis.config('SET', 'rdb-key-save-delay', '200000');
    await redis.bgrewriteaof();
    const redisPid = server.process.pid!;
    const [child] = await until(async () => children(redisPid), (c) => c.length === 1);
    return child;
  }

  it(`runs its AOF rewrite child at niceness ${BACKGROUND_NICE}, so that it takes only CPU time nothing else wants`, async () => {
    const child = await slowRewrite();
    const seen = await until(async () => children(server!.process.pid!).find((c) => c.pid === child.pid), (c) => c === undefined || c.nice === BACKGROUND_NICE, 5000);
    assert.equal(seen?.nice, BACKGROUND_NICE, 'the rewrite child was reniced while it ran');
    await redis!.config('SET', 'rdb-key-save-delay', '0');
  });

  it('leaves the child alone when asked to (backgroundNice null)', async () => {
    const child = await slowRewrite({ backgroundNice: null });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(children(server!.process.pid!).find((c) => c.pid === child.pid)?.nice, 0);
  });
});
