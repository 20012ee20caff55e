import { fork, type ChildProcess } from 'node:child_process';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { withDeadline } from '../../src/infra/deadline.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The message a benchmark child sends over IPC once it serves. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
  /** Anything else the parent needs to know (addresses of what the child serves). */
  info?: Record<string, string>;
}

/** A child Node process of a benchmark, started with tsx, talking back over IPC. */
export interface Child {
  name: string;
  process: ChildProcess;
  ready: ReadyMessage;
  /** The last lines it wrote (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; safe to call twice. */
  stop(graceMs?: number): Promise<void>;
  /** Its major garbage collections (mark-compact) since it started. */
  majorGcs(): Promise<GcCount>;
}

/** Major garbage collections of a process: the pause of each (ms). */
export interface GcCount {
  pausesMs: number[];
}

/**
 * Starts `node --import tsx <script>` from the repository root and waits for its ready message.
 * The child gets an IPC channel, so it can exit by itself when this process goes away.
 */
export async function startChild(name: string, script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Child> {
  const child = fork(script, [], {
    cwd: ROOT,
    // BENCH_CHILD_ARGS adds Node flags to every child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean)],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 15_000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      try {
        await withDeadline(exited, graceMs, `${name} exit`);
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };
  try {
    const ready = await withDeadline(
      new Promise<ReadyMessage>((resolve, reject) => {
        child.on('message', (m: ReadyMessage) => m?.type === 'ready' && resolve(m));
        child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${tail}`)));
        child.once('error', reject);
      }),
      timeoutMs,
      `${name} start`,
    );
    const majorGcs = () =>
      withDeadline(
        new Promise<GcCount>((resolve) => {
          const answer = (m: { type?: string; gcs?: GcCount }) => {
            if (m?.type !== 'gcs') return;
            child.off('message', answer);
            resolve(m.gcs!);
          };
          child.on('message', answer);
          child.send({ type: 'gcs?' });
        }),
        5000,
        `${name} garbage collections`,
      );
    return { name, process: child, ready, output: () => tail, stop, majorGcs };
  } catch (err) {
    await stop(2000);
    throw err;
  }
}

/**
 * The child side: announces readiness and stops cleanly on SIGTERM, SIGINT or when the parent's
 * IPC channel closes (the parent died), each at most once.
 */
export function serveAsChild(port: number, close: () => Promise<void>, info?: Record<string, string>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(1), 20_000).unref();
    close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`close failed: ${(err as Error)?.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  // Major collections, for the parent to set beside a step's latencies (`Child.majorGcs`).
  const gcs: GcCount = { pausesMs: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      gcs.pausesMs.push(e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'gcs?') process.send?.({ type: 'gcs', gcs });
  });
  const ready: ReadyMessage = { type: 'ready', port, ...(info ? { info } : {}) };
  process.send?.(ready);
}
