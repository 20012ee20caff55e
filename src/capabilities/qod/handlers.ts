import { randomUUID } from 'node:crypto';
import { ApiError } from '../../http/errors.ts';
import type { IdempotencyStore } from '../../http/idempotency.ts';
import type { RedisClient, KeyBuilder } from '../../infra/redis.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { Notifier } from '../../notify/index.ts';
import type { SubscriberIdentity } from '../../../adapters/ports.ts';
import type { ApiRequest, OperationHandler, Reply, RequestContext } from '../types.ts';
import { resolveDevice, type Device } from './device.ts';
import { DEVICE_REF_CLAIM } from '../../identity/device-ref.ts';
import type { NumberVault } from '../../identity/number-vault.ts';
import { flowsOverlap, parseCidr, serverAddresses, type ApplicationServer, type PortsSpec } from './flows.ts';
import { durationSeconds, profileView, type ProfileStore, type QosProfileConfig } from './profiles.ts';
import { sessionInfo, type SessionRecord, type SessionStore } from './sessions.ts';
import { CAPABILITY, type Lifecycle } from './lifecycle.ts';

export interface HandlerDeps {
  sessions: SessionStore;
  profiles: ProfileStore;
  lifecycle: Lifecycle;
  limits: Limits;
  identity: SubscriberIdentity;
  notifier: Notifier;
  idempotency: IdempotencyStore;
  redis: RedisClient;
  key: KeyBuilder;
  vault: NumberVault;
}

/** The CreateSession body: the client-given fields of a session record. */
type CreateSessionBody = Pick<SessionRecord, 'device' | 'applicationServer' | 'devicePorts' | 'applicationServerPorts' | 'qosProfile' | 'duration' | 'sink' | 'sinkCredential'>;

function checkPorts(name: string, spec?: PortsSpec): void {
  for (const r of spec?.ranges ?? []) {
    if (r.from > r.to) throw new ApiError('OUT_OF_RANGE', `${name}.ranges: from must not exceed to`);
  }
}

function checkServer(as: ApplicationServer): void {
  for (const a of serverAddresses(as)) {
    try {
      parseCidr(a);
    } catch {
      throw new ApiError('INVALID_ARGUMENT', `applicationServer: ${a} is not an IP address or prefix`);
    }
  }
}

/** The profile rules of createSession: known, ACTIVE, in the plan, and the duration within its bounds. */
function checkProfile(profile: QosProfileConfig | undefined, body: CreateSessionBody, allowed: unknown): QosProfileConfig {
  if (!profile) throw new ApiError('INVALID_ARGUMENT', `qosProfile ${body.qosProfile} does not exist`);
  if (profile.status !== 'ACTIVE') {
    throw new ApiError('QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE', `qosProfile ${profile.name} is ${profile.status} and cannot be used for new sessions`);
  }
  if (Array.isArray(allowed) && !allowed.includes(profile.name)) {
    throw new ApiError('QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE', `qosProfile ${profile.name} is not included in this application's plan`);
  }
  const min = profile.minDuration ? durationSeconds(profile.minDuration) : 1;
  const max = profile.maxDuration ? durationSeconds(profile.maxDuration) : Infinity;
  if (body.duration < min || body.duration > max) {
    throw new ApiError('QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE', `duration must be between ${min} and ${max} seconds for ${profile.name}`);
  }
  return profile;
}

/** The HTTP handlers of Quality on Demand and QoS Profiles, by operationId. */
export function qodHandlers(d: HandlerDeps): Record<string, OperationHandler> {
  /** A client only ever sees its own sessions: anyone else's is "not found". */
  async function owned(req: ApiRequest, ctx: RequestContext): Promise<SessionRecord> {
    const s = await d.sessions.get(req.params.sessionId);
    if (!s || s.clientId !== ctx.principal!.clientId || s.status === 'DELETED') throw new ApiError('NOT_FOUND', 'session not found');
    // CAMARA Design Guide §6.7: with a 3-legged token the session must also be the token's device's.
    const ref = ctx.principal!.claims[DEVICE_REF_CLAIM];
    if (typeof ref === 'string' && s.deviceRef !== ref) throw new ApiError('NOT_FOUND', 'session not found');
    return s;
  }

  async function createSession(body: CreateSessionBody, ctx: RequestContext): Promise<Reply> {
    const principal = ctx.principal!;
    checkServer(body.applicationServer);
    checkPorts('devicePorts', body.devicePorts);
    checkPorts('applicationServerPorts', body.applicationServerPorts);
    const profile = checkProfile(await d.profiles.get(body.qosProfile), body, principal.plan.limits?.allowedQosProfiles);
    d.notifier.checkSink(principal.application, body.sink, body.sinkCredential);
    const device = await resolveDevice(body.device, principal, d);
    const id = randomUUID();
    const record: SessionRecord = {
      id,
      v: 1,
      clientId: principal.clientId,
      ueKey: device.ueKey,
      ueIpv4: device.subscriber.ipv4,
      ueIpv6: device.subscriber.ipv6Prefix,
      device: device.echo,
      ...(typeof principal.claims[DEVICE_REF_CLAIM] === 'string' ? { deviceRef: principal.claims[DEVICE_REF_CLAIM] as string } : {}),
      applicationServer: body.applicationServer,
      devicePorts: body.devicePorts,
      applicationServerPorts: body.applicationServerPorts,
      qosProfile: profile.name,
      duration: body.duration,
      status: 'REQUESTED',
      createdAt: Date.now(),
      sink: body.sink,
      sinkCredential: body.sinkCredential,
      correlator: ctx.correlator,
    };
    const outcome = await d.sessions.create(record, {
      overlaps: (active) => flowsOverlap(active, record),
      slotsKey: d.limits.slotsKey(principal.clientId, CAPABILITY),
      maxSlots: principal.plan.maxConcurrentResources,
      goneKey: d.notifier.goneKey(principal.clientId),
      requestedDeadline: record.createdAt + d.lifecycle.options.requestedTimeoutMs,
    });
    if (outcome === 'conflict') throw new ApiError('CONFLICT', 'the device already has a session whose flows overlap these');
    if (outcome === 'no-slot') d.limits.refuseSlot(CAPABILITY, principal.plan);
    await d.lifecycle.startJobs(record);
    return { status: 201, body: sessionInfo(record) };
  }

  return {
    async createSession(req: ApiRequest<CreateSessionBody>, ctx) {
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') return d.idempotency.run(ctx.principal!.clientId, key, req.body, () => createSession(req.body, ctx));
      return createSession(req.body, ctx);
    },
    async getSession(req, ctx) {
      return { status: 200, body: sessionInfo(await owned(req, ctx)) };
    },
    async deleteSession(req, ctx) {
      const s = await owned(req, ctx);
      // A session past its end is expired first, so its sink hears DURATION_EXPIRED, not DELETE_REQUESTED.
      if (s.status === 'AVAILABLE' && s.expiresAt !== undefined && Date.now() >= s.expiresAt) {
        await d.lifecycle.end(s.id, 'DURATION_EXPIRED', (cur) => cur.expiresAt === s.expiresAt);
      }
      await d.lifecycle.delete((await d.sessions.get(s.id)) ?? s);
      return { status: 204 };
    },
    async extendQosSessionDuration(req: ApiRequest<{ requestedAdditionalDuration: number }>, ctx) {
      const s = await owned(req, ctx);
      const profile = await d.profiles.get(s.qosProfile);
      const max = profile?.maxDuration ? durationSeconds(profile.maxDuration) : Infinity;
      const result = await d.sessions.update(s.id, (cur) => {
        if (cur.status !== 'AVAILABLE' || Date.now() >= cur.expiresAt!) return undefined;
        // The overall duration is capped silently at the profile's maxDuration (QoD 1.2 §extend).
        const duration = Math.min(cur.duration + req.body.requestedAdditionalDuration, max);
        return { next: { ...cur, duration, expiresAt: cur.startedAt! + duration * 1000 } };
      });
      if (!result) throw new ApiError('QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED', 'only an AVAILABLE session can be extended');
      await d.lifecycle.rescheduleExpiry(result.before, result.after);
      return { status: 200, body: sessionInfo(result.after) };
    },
    async retrieveSessionsByDevice(req: ApiRequest<{ device?: Device }>, ctx) {
      const principal = ctx.principal!;
      const device = await resolveDevice(req.body?.device, principal, d);
      const index = d.sessions.clientDeviceIndex(principal.clientId, device.ueKey);
      const ids = await d.sessions.idsOf(index);
      const found = await d.sessions.getMany(ids);
      const gone = ids.filter((id) => !found.some((s) => s.id === id));
      if (gone.length) await d.redis.srem(index, ...gone);
      const visible = found.filter((s) => s.clientId === principal.clientId && s.status !== 'DELETED').sort((a, b) => a.createdAt - b.createdAt);
      return { status: 200, body: visible.slice(0, 100).map((s) => sessionInfo(s)) };
    },
    async retrieveQoSProfiles(req: ApiRequest<{ device?: Device; name?: string; status?: string }>, ctx) {
      const body = req.body ?? {};
      if (body.device || typeof ctx.principal!.claims.dev === 'string') await resolveDevice(body.device, ctx.principal!, d);
      const all = [...(await d.profiles.all()).values()].sort((a, b) => a.name.localeCompare(b.name));
      const matching = all.filter((p) => (!body.name || p.name === body.name) && (!body.status || p.status === body.status));
      if (body.name && matching.length === 0) throw new ApiError('NOT_FOUND', `no QoS profile named ${body.name}`);
      return { status: 200, body: matching.slice(0, 100).map(profileView) };
    },
    async getQosProfile(req) {
      const p = await d.profiles.get(req.params.name);
      if (!p) throw new ApiError('NOT_FOUND', `no QoS profile named ${req.params.name}`);
      return { status: 200, body: profileView(p) };
    },
  };
}
