import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** Printed instead of a stack trace when `redis-server` is not installed. */
export const REDIS_INSTALL_ADVICE = [
  'redis-server was not found on PATH. Exposure Gateway needs Redis 6.2 or newer.',
  '  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y redis-server',
  '  macOS:          brew install redis',
  'Or point the gateway at an existing Redis with REDIS_URL=redis://host:6379 (its maxmemory-policy must be noeviction).',
].join('\n');

export class RedisServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisServerError';
  }
}

export interface RedisServerOptions {
  /** Data directory; the append-only file lives here. */
  dir: string;
  /** TCP port. @defaultValue a free port */
  port?: number;
  /** Append-only persistence (`appendonly yes`, `appendfsync everysec`). @defaultValue true */
  appendOnly?: boolean;
  /** More `redis-server` arguments (they override the defaults above). */
  extraArgs?: string[];
  /** How long to wait for "Ready to accept connections". @defaultValue 10000 */
  startTimeoutMs?: number;
  /**
   * Niceness given to the server's fork children (AOF rewrites, background saves); null leaves
   * them as they are. @defaultValue {@link BACKGROUND_NICE}
   */
  backgroundNice?: number | null;
  /**
   * Also put those children in the SCHED_IDLE scheduling class (with `chrt`, where installed),
   * unless `backgroundNice` is null. @defaultValue true
   */
  backgroundIdle?: boolean;
}

/**
 * An AOF rewrite forks a child that serialises the whole data set, a second or more of one core.
 * On a host it shares with the gateway, that core is taken from the request path just when the
 * server is busiest (a rewrite comes due every few tens of seconds under load), and activation
 * latency jumps for the seconds it runs. At niceness 19 and in the SCHED_IDLE class, the child
 * runs in the CPU time the gateway and Redis leave idle and gives the core back the moment one of
 * them wakes (a merely niced task may finish its slice first); it takes longer, nothing else
 * changes (with multi-part AOF, Redis 7 writes new commands to a new file meanwhile).
 */
export const BACKGROUND_NICE = 19;

/** Linux's SCHED_IDLE policy number, as /proc/<pid>/stat reports it. */
export const SCHED_IDLE = 5;

/** Redis's log line for a fork child: "Background append only file rewriting started by pid 123". */
const FORK_STARTED = /Background (?:append only file rewriting|saving) started by pid (\d+)/;

/** A redis-server child process owned by this process. */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); safe to call twice. */
  stop(): Promise<void>;
}

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a private `redis-server` with the settings the gateway requires: `noeviction` (a job is
 * never dropped to make room) and, by default, append-only persistence fsynced every second so a
 * restart loses at most one second of writes.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const appendOnly = options.appendOnly ?? true;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', appendOnly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
    '--daemonize', 'no',
    '--logfile', '',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new RedisServerError(`redis-server did not start within ${options.startTimeoutMs ?? 10_000} ms:\n${output}`)), options.startTimeoutMs ?? 10_000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new RedisServerError(REDIS_INSTALL_ADVICE) : err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new RedisServerError(`redis-server exited with code ${code} before it was ready:\n${output}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  });
  await ready;
  // Keep draining output so the child never blocks on a full pipe, and watch it for fork children.
  const nice = options.backgroundNice === undefined ? BACKGROUND_NICE : options.backgroundNice;
  if (nice !== null) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const pid = FORK_STARTED.exec(line)?.[1];
      if (!pid) return;
      try {
        setPriority(Number(pid), nice);
      } catch {
        // The child already finished (a small data set), or we may not renice it: nothing to do.
        return;
      }
      if (options.backgroundIdle ?? true) {
        // chrt is util-linux's; without it (or once the child is gone) the niceness alone stays.
        spawn('chrt', ['--idle', '--pid', '0', pid], { stdio: 'ignore' }).on('error', () => {});
      }
    });
  }
  child.stdout!.resume();
  child.stderr!.resume();
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: child,
    stop() {
      stopping ??= new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          done();
        });
        child.kill('SIGTERM');
      });
      return stopping;
    },
  };
}
