import { fileURLToPath } from 'node:url';
import { ApiError, defineErrors } from '../../http/errors.ts';
import { ConfigError } from '../../infra/config.ts';
import { IdempotencyStore } from '../../http/idempotency.ts';
import type { Capability, CapabilityRuntime, PlatformServices } from '../types.ts';
import { lineAdminHandlers, registerLine } from './admin.ts';
import { lineHandlers } from './handlers.ts';
import { lineProcessors } from './jobs.ts';
import { CAPABILITY, BandwidthLifecycle } from './lifecycle.ts';
import { LineStore } from './lines.ts';
import { RequestStore } from './requests.ts';

defineErrors({
  'DEDICATED_LINE.LINE_NOT_IN_SERVICE': { status: 422, message: 'The line is out of service.' },
  'DEDICATED_LINE.EXTENSION_NOT_ALLOWED': { status: 409, message: 'Extending the duration is not allowed in the current state. The bandwidth request must be AVAILABLE.' },
});

const API_DOCUMENT = fileURLToPath(new URL('../../../openapi/dedicated-line.yaml', import.meta.url));
const ADMIN_DOCUMENT = fileURLToPath(new URL('../../../openapi/admin-dedicated-line.yaml', import.meta.url));

/** What the bootstrap YAML may say about the dedicated line (`dedicatedLine:`). */
export interface DedicatedLineBootstrap {
  /** Lines of the operator's inventory to give to tenants at start; existing registrations are kept as they are. */
  lines?: Array<{ tenant: string; lineId: string; serviceId: string; name?: string }>;
  /** Seconds an ended request stays readable (at least 360). @defaultValue 3600 */
  retentionSeconds?: number;
  /** Tries of a line change while the OSS cannot be reached. @defaultValue 5 */
  syncAttempts?: number;
  /** Delay before the second try, doubling after (with jitter). @defaultValue 500 */
  syncBackoffMs?: number;
}

function create(services: PlatformServices): CapabilityRuntime {
  const { redis, key, queues, limits, logger, config, notifier, southbound, store } = services;
  const controller = southbound?.lines;
  if (!controller) throw new ConfigError('dedicated-line needs a line controller: set LINE_CONTROLLER_URL, or run the simulators role in this process');
  const settings = (config.bootstrap as { dedicatedLine?: DedicatedLineBootstrap }).dedicatedLine ?? {};
  const lines = new LineStore(redis, key);
  const requests = new RequestStore(redis, key);
  const log = logger.child({ capability: CAPABILITY });
  const lifecycle = new BandwidthLifecycle(requests, redis, key, queues, limits, notifier, log, {
    publicUrl: config.publicUrl,
    retentionSeconds: Math.max(360, settings.retentionSeconds ?? 3600),
    syncAttempts: Math.max(1, settings.syncAttempts ?? 5),
    syncBackoffMs: Math.max(0, settings.syncBackoffMs ?? 500),
  });
  const { processors, onLineEvent } = lineProcessors({ lifecycle, lines, controller, redis, key });
  const handlers = lineHandlers({ lines, requests, lifecycle, controller, limits, notifier, idempotency: new IdempotencyStore(redis, key) });
  let timer: NodeJS.Timeout | undefined;
  return {
    apis: [{ document: API_DOCUMENT, handlers }],
    adminApis: [{ document: ADMIN_DOCUMENT, handlers: lineAdminHandlers({ lines, requests, store, controller }) }],
    processors,
    async init() {
      for (const l of settings.lines ?? []) {
        if (!l?.tenant || !l.lineId || !l.serviceId) throw new ConfigError('every dedicatedLine.lines entry needs tenant, lineId and serviceId');
        try {
          await registerLine(lines, { lineId: l.lineId, tenantId: l.tenant, serviceId: l.serviceId, name: l.name ?? l.lineId, createdAt: new Date().toISOString() });
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'ALREADY_EXISTS')) throw err;
        }
      }
    },
    startBackground() {
      // A line event is applied while the OSS waits for our answer, so a failure makes it send again.
      const eventLog = log.child({ source: 'line-events' });
      controller.onEvent((e) => onLineEvent(e, eventLog));
      timer = setInterval(() => {
        void lifecycle.schedule.promote().catch((err) => log.warn({ err: err.message }, 'timer promotion failed'));
        void lifecycle.sweepDirty().catch((err) => log.warn({ err: err.message }, 'dirty line sweep failed'));
        void lifecycle.recoverEffects().catch((err) => log.warn({ err: err.message }, 'transition follow-up recovery failed'));
      }, 1000);
      timer.unref();
    },
    async stopBackground() {
      clearInterval(timer);
      await lifecycle.followUps.flush().catch(() => {});
    },
  };
}

export const dedicatedLine: Capability = {
  id: CAPABILITY,
  title: 'Dedicated line (bandwidth on demand)',
  description: "More bandwidth on an enterprise's dedicated lines for a while, now or booked for later, ordered from the operator's OSS over TMF641.",
  documents: [API_DOCUMENT],
  create,
};
