/** Raised when a step does not finish before its deadline. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * Resolves with `promise`, or rejects with a {@link DeadlineError} after `ms`. Shutdown steps use it
 * so that no single step (a worker waiting for a job, a Redis that went away) can hang the process.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every cleanup in order, each with its own deadline, even when earlier ones fail. */
export async function runCleanups(
  steps: Array<[string, () => Promise<unknown> | unknown]>,
  ms: number,
  onError: (step: string, err: unknown) => void,
): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await withDeadline(Promise.resolve().then(step), ms, name);
    } catch (err) {
      onError(name, err);
    }
  }
}
