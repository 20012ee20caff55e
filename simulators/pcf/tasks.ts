/**
 * Background work of the simulator (bearer requests, notifications with back-off), tracked so that
 * `close()` can stop the timers and wait for what is in flight, and never run by an API handler inline.
 */
import { errorText, type PcfLogger } from './log.ts';

export class ClosedError extends Error {
  constructor() {
    super('the PCF simulator is closing');
    this.name = 'ClosedError';
  }
}

export class TaskSet {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly aborter = new AbortController();
  /** Sleeps under way, each able to cancel itself (one abort listener per sleep would cost O(n) to add). */
  private readonly sleeping = new Set<() => void>();

  constructor(
    private readonly timeScale: number,
    private readonly log: PcfLogger,
  ) {}

  get closed(): boolean {
    return this.aborter.signal.aborted;
  }

  /** Runs `fn` in the background; its failure is logged, never thrown at the caller. */
  run(what: string, fn: () => Promise<unknown>): void {
    if (this.closed) return;
    const p = Promise.resolve()
      .then(fn)
      .catch((err) => {
        if (!(err instanceof ClosedError)) this.log({ level: 'error', msg: `${what} failed`, err: errorText(err) });
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits `ms × timeScale`; rejects with ClosedError when the simulator closes meanwhile. */
  sleep(ms: number): Promise<void> {
    const signal = this.aborter.signal;
    if (signal.aborted) return Promise.reject(new ClosedError());
    return new Promise((resolve, reject) => {
      const cancel = () => {
        clearTimeout(timer);
        this.sleeping.delete(cancel);
        reject(new ClosedError());
      };
      const timer = setTimeout(() => {
        this.sleeping.delete(cancel);
        resolve();
      }, Math.max(0, ms * this.timeScale));
      this.sleeping.add(cancel);
    });
  }

  /** Stops every timer and waits (at most `ms`) for work already on the wire. */
  async close(ms: number): Promise<void> {
    this.aborter.abort();
    for (const cancel of [...this.sleeping]) cancel();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}
