import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BACKGROUND_NICE, SCHED_IDLE, startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import { until } from './support/wait.ts';

/** The fork children of `pid` (processes whose parent it is, not its threads), their niceness and scheduling policy, from /proc. */
function children(pid: number): Array<{ pid: number; nice: number; policy: number }> {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        // After the command name (in parentheses, and it may hold spaces): state (field 3), ppid, ...; nice is field 19, policy 41.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid ? [{ pid: Number(entry), nice: Number(fields[16]), policy: Number(fields[38]) }] : [];
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
  async function slowRewrite(options: { backgroundNice?: number | null; backgroundIdle?: boolean } = {}): Promise<{ pid: number; nice: number; policy: number }> {
    server = await startRedisServer({ dir, appendOnly: true, ...options });
    redis = new Redis(server.url);
    await redis.mset('a', '1', 'b', '2', 'c', '3');
    await redis.config('SET', 'rdb-key-save-delay', '200000');
    await redis.bgrewriteaof();
    const redisPid = server.process.pid!;
    const [child] = await until(async () => children(redisPid), (c) => c.length === 1);
    return child;
  }

  const chrt = ['/usr/bin/chrt', '/bin/chrt'].some((path) => existsSync(path));

  it(`runs its AOF rewrite child at niceness ${BACKGROUND_NICE} and in the SCHED_IDLE class, so that it takes only CPU time nothing else wants`, async function () {
    // chrt is in util-linux, which every Debian has; where it is missing, the niceness is still checked.
    const child = await slowRewrite();
    const settled = (c: { nice: number; policy: number } | undefined) => c === undefined || (c.nice === BACKGROUND_NICE && (!chrt || c.policy === SCHED_IDLE));
    const seen = await until(async () => children(server!.process.pid!).find((c) => c.pid === child.pid), settled, 5000);
    assert.equal(seen?.nice, BACKGROUND_NICE, 'the rewrite child was reniced while it ran');
    if (chrt) assert.equal(seen?.policy, SCHED_IDLE, 'the rewrite child was put in SCHED_IDLE while it ran');
    await redis!.config('SET', 'rdb-key-save-delay', '0');
  });

  it('only renices the child with backgroundIdle false', async () => {
    const child = await slowRewrite({ backgroundIdle: false });
    const seen = await until(async () => children(server!.process.pid!).find((c) => c.pid === child.pid), (c) => c === undefined || c.nice === BACKGROUND_NICE, 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen?.nice, BACKGROUND_NICE);
    assert.equal(children(server!.process.pid!).find((c) => c.pid === child.pid)?.policy, 0, 'SCHED_OTHER');
    await redis!.config('SET', 'rdb-key-save-delay', '0');
  });

  it('leaves the child alone when asked to (backgroundNice null)', async () => {
    const child = await slowRewrite({ backgroundNice: null });
    await new Promise((r) => setTimeout(r, 300));
    const seen = children(server!.process.pid!).find((c) => c.pid === child.pid);
    assert.equal(seen?.nice, 0);
    assert.equal(seen?.policy, 0, 'SCHED_OTHER');
  });
});
