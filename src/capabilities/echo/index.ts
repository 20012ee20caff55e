import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../http/errors.ts';
import type { Capability, PlatformServices, OperationHandler, ApiRequest } from '../types.ts';
import type { JobData } from '../../jobs/registry.ts';

declare module '../../jobs/registry.ts' {
  interface JobDataMap {
    'echo.process': { jobId: string };
  }
}

const CAPABILITY = 'echo';
const DOCUMENT = fileURLToPath(new URL('../../../openapi/echo.yaml', import.meta.url));
/** How long a finished job stays readable. */
const RETENTION_SECONDS = 3600;

interface EchoRecord {
  jobId: string;
  clientId: string;
  status: 'REQUESTED' | 'DONE';
  message: string;
  echo?: string;
  createdAt: string;
  completedAt?: string;
  correlator?: string;
}

function view(r: EchoRecord) {
  const { clientId: _owner, ...visible } = r;
  return visible;
}

/** Builds the echo capability's handlers and processor over the platform services. */
function create({ redis, key, limits, queues }: PlatformServices) {
  const recordKey = (id: string) => key(CAPABILITY, 'job', id);

  async function load(id: string): Promise<EchoRecord | undefined> {
    const raw = await redis.get(recordKey(id));
    return raw ? (JSON.parse(raw) as EchoRecord) : undefined;
  }

  /** A client only ever sees its own jobs: anyone else's is "not found", never "forbidden". */
  async function owned(req: ApiRequest, clientId: string): Promise<EchoRecord> {
    const record = await load(req.params.jobId);
    if (!record || record.clientId !== clientId) throw new ApiError('NOT_FOUND', 'echo job not found');
    return record;
  }

  const handlers: Record<string, OperationHandler> = {
    async createEchoJob(req: ApiRequest<{ message: string; delaySeconds?: number }>, ctx) {
      const principal = ctx.principal!;
      const record: EchoRecord = {
        jobId: randomUUID(),
        clientId: principal.clientId,
        status: 'REQUESTED',
        message: req.body.message,
        createdAt: new Date().toISOString(),
      };
      await limits.acquire(principal.clientId, CAPABILITY, record.jobId, principal.plan);
      try {
        await redis.set(recordKey(record.jobId), JSON.stringify(record), 'EX', RETENTION_SECONDS + (req.body.delaySeconds ?? 0));
        const data: JobData<'echo.process'> = { jobId: record.jobId, correlator: ctx.correlator };
        await queues.add('echo.process', data, { jobId: `echo-${record.jobId}`, delay: (req.body.delaySeconds ?? 0) * 1000 });
      } catch (err) {
        await limits.release(principal.clientId, CAPABILITY, record.jobId).catch(() => {});
        throw err;
      }
      return { status: 201, body: view(record) };
    },
    async getEchoJob(req, ctx) {
      return { status: 200, body: view(await owned(req, ctx.principal!.clientId)) };
    },
    async deleteEchoJob(req, ctx) {
      const record = await owned(req, ctx.principal!.clientId);
      await queues.queue(CAPABILITY).remove(`echo-${record.jobId}`).catch(() => 0);
      await redis.del(recordKey(record.jobId));
      await limits.release(record.clientId, CAPABILITY, record.jobId);
      return { status: 204 };
    },
  };

  return {
    apis: [{ document: DOCUMENT, handlers }],
    processors: {
      // Idempotent: running it twice (at-least-once delivery) gives the same record.
      'echo.process': async (data: JobData<'echo.process'>) => {
        const record = await load(data.jobId);
        if (!record) return { skipped: 'deleted' };
        if (record.status !== 'DONE') {
          const done: EchoRecord = { ...record, status: 'DONE', echo: record.message, completedAt: new Date().toISOString(), correlator: data.correlator };
          await redis.set(recordKey(record.jobId), JSON.stringify(done), 'EX', RETENTION_SECONDS);
        }
        await limits.release(record.clientId, CAPABILITY, record.jobId);
        return { done: record.jobId };
      },
    },
  };
}

export const echoCapability: Capability = {
  id: CAPABILITY,
  title: 'Echo',
  description: 'Exercises the platform path end to end (contract, scopes, plan limits, job, worker) without touching the network.',
  documents: [DOCUMENT],
  create,
};
