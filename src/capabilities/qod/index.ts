import { fileURLToPath } from 'node:url';
import { defineErrors } from '../../http/errors.ts';
import { ConfigError } from '../../infra/config.ts';
import { IdempotencyStore } from '../../http/idempotency.ts';
import type { Capability, CapabilityRuntime, PlatformServices } from '../types.ts';
import { qodHandlers } from './handlers.ts';
import { profileAdminHandlers } from './profile-admin.ts';
import { qodProcessors } from './jobs.ts';
import { CAPABILITY, Lifecycle, type LifecycleOptions } from './lifecycle.ts';
import { DEFAULT_PROFILES, ProfileStore, type QosProfileConfig } from './profiles.ts';
import { SessionStore } from './sessions.ts';

defineErrors({
  'QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED': { status: 409, message: 'Extending the session duration is not allowed in the current state. The session must be in the AVAILABLE state.' },
  'QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE': { status: 422, message: 'The requested QoS Profile is currently not available for session creation.' },
  'QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE': { status: 400, message: 'The requested duration is out of the allowed range for the specific QoS profile.' },
});

const QOD_DOCUMENT = fileURLToPath(new URL('../../../openapi/quality-on-demand.yaml', import.meta.url));
const PROFILES_DOCUMENT = fileURLToPath(new URL('../../../openapi/qos-profiles.yaml', import.meta.url));
const ADMIN_DOCUMENT = fileURLToPath(new URL('../../../openapi/admin-quality-on-demand.yaml', import.meta.url));

/** What the bootstrap YAML may say about Quality on Demand (`qualityOnDemand:`). */
export interface QodBootstrap {
  /** Profiles to create at start (in addition to the defaults), by name; existing ones are left as they are. */
  qosProfiles?: QosProfileConfig[];
  /** Seconds a session may stay REQUESTED. @defaultValue 30 */
  requestedTimeoutSeconds?: number;
  /** Seconds an ended session stays readable (at least 360). @defaultValue 3600 */
  retentionSeconds?: number;
  /**
   * Tries of a session's activation while the PCF cannot be reached; after the last one the session
   * ends NETWORK_TERMINATED. Keep attempts × back-off within `requestedTimeoutSeconds`.
   * @defaultValue 5
   */
  activationAttempts?: number;
  /** Delay before the second try, doubling with each further one (with jitter). @defaultValue 500 */
  activationBackoffMs?: number;
}

function create(services: PlatformServices): CapabilityRuntime {
  const { redis, key, queues, limits, logger, config, notifier, southbound } = services;
  if (!southbound) {
    throw new ConfigError('quality-on-demand needs a network: set PCF_URL and SUBSCRIBER_API_URL, or run the simulators role in this process');
  }
  const settings = (config.bootstrap as { qualityOnDemand?: QodBootstrap }).qualityOnDemand ?? {};
  const options: LifecycleOptions = {
    publicUrl: config.publicUrl,
    requestedTimeoutMs: (settings.requestedTimeoutSeconds ?? 30) * 1000,
    retentionSeconds: Math.max(360, settings.retentionSeconds ?? 3600),
    activationAttempts: Math.max(1, settings.activationAttempts ?? 5),
    activationBackoffMs: Math.max(0, settings.activationBackoffMs ?? 500),
  };
  const sessions = new SessionStore(redis, key);
  const profiles = new ProfileStore(redis, key);
  const lifecycle = new Lifecycle(sessions, queues, limits, notifier, logger.child({ capability: CAPABILITY }), options);
  const handlers = qodHandlers({ sessions, profiles, lifecycle, limits, notifier, identity: southbound.identity, idempotency: new IdempotencyStore(redis, key), redis, key, vault: services.vault });
  const processors = qodProcessors({ sessions, profiles, lifecycle, limits, qos: southbound.qos });
  const applyNetworkEvent = processors['quality-on-demand.network-event']!;
  let recovery: NodeJS.Timeout | undefined;
  // One signal for every event applied at the callback, aborted when the background stops: an
  // AbortSignal.timeout() per event would keep a timer and its signal alive for its whole timeout.
  const stopping = new AbortController();
  return {
    apis: [
      { document: QOD_DOCUMENT, handlers },
      { document: PROFILES_DOCUMENT, handlers },
    ],
    adminApis: [{ document: ADMIN_DOCUMENT, handlers: profileAdminHandlers(profiles) }],
    processors,
    async init() {
      await profiles.seed([...DEFAULT_PROFILES, ...(settings.qosProfiles ?? [])]);
    },
    startBackground() {
      // A network event is applied while the PCF waits for its answer (the flow id is the session
      // id): the 204 goes back only once the session is updated, so a failure answers 503 and the
      // PCF delivers it again, as it does any unacknowledged notification. A job per event would only add a hop.
      const log = logger.child({ capability: CAPABILITY, source: 'n5-callback' });
      southbound.qos.onEvent(async (e) => {
        await applyNetworkEvent(
          { ...e, correlator: `network-${e.flowId}` },
          { jobId: `nev-${e.flowId}-${e.kind}`, attempt: 1, attemptsAllowed: 1, signal: stopping.signal, log },
        );
      });
      recovery = setInterval(() => {
        void lifecycle.recoverOutbox().catch((err) => logger.warn({ err: err.message }, 'outbox recovery failed'));
        void lifecycle.recoverEffects().catch((err) => logger.warn({ err: err.message }, 'transition follow-up recovery failed'));
        void lifecycle.promoteExpiries().catch((err) => logger.warn({ err: err.message }, 'expiry promotion failed'));
        void lifecycle.timeOutRequested().catch((err) => logger.warn({ err: err.message }, 'REQUESTED time-out sweep failed'));
      }, 1000);
      recovery.unref();
    },
    async stopBackground() {
      clearInterval(recovery);
      stopping.abort();
    },
    async close() {
      await lifecycle.flushOutbox();
    },
  };
}

export const qualityOnDemand: Capability = {
  id: CAPABILITY,
  title: 'Mobile acceleration (Quality on Demand)',
  description: 'CAMARA Quality on Demand sessions and QoS Profiles: a dedicated QoS flow for a device, set up through the PCF over N5.',
  documents: [QOD_DOCUMENT, PROFILES_DOCUMENT],
  create,
};
