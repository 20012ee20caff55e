import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** What the server side spent on a measured window, per successful request. */
export interface Usage {
  /** CPU of the server processes together (user + system), ms. */
  serverCpuMs: number;
  /** The same by process, when there are several. */
  byProcess: Record<string, number>;
  /** CPU of its redis-server, ms. */
  redisCpuMs: number;
  /** Commands Redis executed (INFO commandstats; a script counts once, plus the commands it runs). */
  redisCommands: number;
  /** Lua scripts among them (EVAL, EVALSHA). */
  redisScripts: number;
}

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process so far, ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

async function commandCounts(redis: Redis): Promise<{ commands: number; scripts: number }> {
  const info = await redis.info('commandstats');
  let commands = 0;
  let scripts = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    commands += Number(m[2]);
    if (m[1] === 'eval' || m[1] === 'evalsha') scripts += Number(m[2]);
  }
  return { commands, scripts };
}

/**
 * The share of the machine's CPU time the hypervisor gave to others (the `steal` column of
 * /proc/stat) between now and when the returned function is called: on a shared virtual machine
 * it rises and falls with the neighbours, and every number measured meanwhile with it. NaN where
 * /proc/stat is not there.
 */
export function stealMeter(): () => number {
  const read = () => {
    try {
      const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number);
      return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] };
    } catch {
      return { total: NaN, steal: NaN };
    }
  };
  const start = read();
  return () => {
    const end = read();
    return end.total > start.total ? (end.steal - start.steal) / (end.total - start.total) : NaN;
  };
}

/**
 * Forks of a redis-server (INFO stats `total_forks`: an AOF rewrite or an RDB save) from now until
 * the returned function is called, plus one when a rewrite or save was already running at the
 * start. The child copies the data set on one of the machine's cores while the step runs, which
 * shows in every latency measured meanwhile; a report says so.
 */
export async function forkMeter(redisUrl: string): Promise<() => Promise<number>> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const read = async () => {
    const info = await redis.info();
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    return { forks: field('total_forks'), running: field('aof_rewrite_in_progress') + field('rdb_bgsave_in_progress') > 0 };
  };
  const start = await read();
  return async () => {
    try {
      return (await read()).forks - start.forks + (start.running ? 1 : 0);
    } finally {
      redis.disconnect();
    }
  };
}

/** Usage over several windows, each measured per its own `n` requests, as one per-request figure. */
export function sumUsage(parts: ReadonlyArray<{ usage: Usage; n: number }>): Usage {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const total = (pick: (u: Usage) => number) => parts.reduce((a, p) => a + pick(p.usage) * p.n, 0) / n;
  const names = [...new Set(parts.flatMap((p) => Object.keys(p.usage.byProcess)))];
  return {
    serverCpuMs: total((u) => u.serverCpuMs),
    byProcess: Object.fromEntries(names.map((name) => [name, total((u) => u.byProcess[name] ?? 0)])),
    redisCpuMs: total((u) => u.redisCpuMs),
    redisCommands: total((u) => u.redisCommands),
    redisScripts: total((u) => u.redisScripts),
  };
}

const cpuOf = (pids: Record<string, number>) => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));

/**
 * Takes a reading now; `per(n)` later gives what was spent since, per each of `n` requests.
 * `servers` is one pid, or several processes by name (a gateway, its workers, the network).
 */
export async function usageMeter(servers: number | Record<string, number>, redisPid: number, redisUrl: string): Promise<{ per(n: number): Promise<Usage> }> {
  const pids = typeof servers === 'number' ? { server: servers } : servers;
  const probe = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  probe.on('error', () => {}); // a failed reading fails the run; the event itself says nothing more
  const start = { servers: cpuOf(pids), redis: cpuMs(redisPid), ...(await commandCounts(probe)) };
  return {
    async per(n) {
      try {
        const end = { servers: cpuOf(pids), redis: cpuMs(redisPid), ...(await commandCounts(probe)) };
        const byProcess = Object.fromEntries(Object.keys(pids).map((name) => [name, (end.servers[name] - start.servers[name]) / n]));
        return {
          serverCpuMs: Object.values(byProcess).reduce((a, b) => a + b, 0),
          byProcess,
          redisCpuMs: (end.redis - start.redis) / n,
          redisCommands: (end.commands - start.commands) / n,
          redisScripts: (end.scripts - start.scripts) / n,
        };
      } finally {
        probe.disconnect();
      }
    },
  };
}
