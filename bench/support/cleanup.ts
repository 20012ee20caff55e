import { runCleanups } from '../../src/infra/deadline.ts';

/**
 * What a benchmark started and must stop, whatever happens: child processes, redis-servers,
 * servers, temporary directories. Steps run newest first (a gateway stops before its Redis), each
 * with its own deadline, and every step runs even when an earlier one fails. Idempotent.
 */
export class Cleanup {
  private readonly steps: Array<[string, () => Promise<unknown> | unknown]> = [];
  private running?: Promise<void>;

  constructor(private readonly stepTimeoutMs = 20_000) {}

  /** Registers a step; returns a function that runs it now (and takes it off the list). */
  add(name: string, step: () => Promise<unknown> | unknown): () => Promise<void> {
    const entry: [string, () => Promise<unknown> | unknown] = [name, step];
    this.steps.push(entry);
    return async () => {
      const i = this.steps.indexOf(entry);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await runCleanups([entry], this.stepTimeoutMs, report);
    };
  }

  run(): Promise<void> {
    this.running ??= runCleanups(this.steps.splice(0).reverse(), this.stepTimeoutMs, report);
    return this.running;
  }
}

function report(step: string, err: unknown): void {
  process.stderr.write(`cleanup: ${step} failed: ${(err as Error)?.message ?? String(err)}\n`);
}
