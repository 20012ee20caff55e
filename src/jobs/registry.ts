/**
 * The typed registry of job names. Each capability adds its jobs by declaration merging:
 *
 * ```ts
 * declare module '../../jobs/registry.ts' {
 *   interface JobDataMap { 'echo.process': { jobId: string } }
 * }
 * ```
 *
 * A job name is `<queue>.<action>`: the part before the first dot names the BullMQ queue, so
 * every capability has its own queue and a slow capability never delays another's jobs.
 * Payloads carry ids, not blobs: the resource lives in Redis, the job points at it.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface JobDataMap {}

export type JobName = keyof JobDataMap & string;

/** What every job carries besides its own data: the request's x-correlator, for logs and notifications. */
export interface JobEnvelope {
  correlator: string;
}

export type JobData<N extends JobName> = JobDataMap[N] & JobEnvelope;

/** The queue a job name belongs to. */
export function queueOf(name: string): string {
  const dot = name.indexOf('.');
  if (dot <= 0) throw new Error(`job name "${name}" must look like <queue>.<action>`);
  return name.slice(0, dot);
}

/** What a processor gets besides the job data. */
export interface ProcessorContext {
  jobId: string;
  /** 1 on the first try. */
  attempt: number;
  /** How many tries the job has in all; on the last one a processor settles instead of throwing. */
  attemptsAllowed: number;
  /** Aborted when the worker cancels the job or shuts down; pass it to I/O. */
  signal: AbortSignal;
  log: import('../infra/logger.ts').Logger;
}

/** A plain async function; testable without Redis. */
export type Processor<N extends JobName = JobName> = (data: JobData<N>, ctx: ProcessorContext) => Promise<unknown>;

export type ProcessorMap = { [N in JobName]?: Processor<N> };
