import type { JSONWebKeySet } from 'jose';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import { ApiError } from '../http/errors.ts';
import { generateSecret, hashSecret } from '../auth/secrets.ts';
import type { Application, Plan, Status, Subscription, Tenant, UsageDay } from './types.ts';

// Creates a hash only if it does not exist yet and indexes it, in one step, so two bootstraps
// racing each other can never half-create or overwrite a record.
const CREATE_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1`;

const USAGE_TTL_SECONDS = 400 * 24 * 3600;

/** What authorising a call needs to know about its client, and the tenancy generation it was read at. */
export interface AccessState {
  app?: Application;
  tenant?: Tenant;
  subscription?: Subscription;
  /** The value of the tenancy generation counter when this was read (see {@link TenancyStore.generationKey}). */
  generation: number;
}

/** The tenancy generation counter's key (see {@link TenancyStore.generationKey}). */
export const generationKeyOf = (key: KeyBuilder): string => key('tenancy', 'gen');

/** How long a cached access state may serve calls that do not check the generation (a safety net). */
const ACCESS_CACHE_MS = 30_000;
const ACCESS_CACHE_SIZE = 10_000;
/** Usage counters are added up in memory and written at most this long after the call. */
const USAGE_FLUSH_MS = 250;

export interface NewApplication {
  clientId?: string;
  name: string;
  jwks?: JSONWebKeySet;
  jwksUri?: string;
  notificationHosts?: string[];
  sinkTokenEndpoint?: string;
  sinkClientId?: string;
  /** A given secret (bootstrap), `true` to generate one, `false` for key-only clients. @defaultValue true */
  secret?: string | boolean;
  /** Registered redirection endpoints (see {@link checkRedirectUris}). @defaultValue none */
  redirectUris?: string[];
}

const MAX_REDIRECT_URIS = 20;
const LOOPBACK_HOSTS = /^(?:127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * Checks the redirection endpoints an application registers; 400 INVALID_ARGUMENT names the first
 * bad one. RFC 6749 §3.1.2: absolute, no fragment. RFC 9700 §2.6 / RFC 6749 §3.1.2.1: TLS, except
 * that native apps may use loopback http (RFC 8252 §7.3) and a private-use scheme named after a
 * domain they own (RFC 8252 §7.1). Outside production any http host is accepted, for development.
 */
export function checkRedirectUris(uris: readonly string[], options: { production: boolean }): void {
  if (uris.length > MAX_REDIRECT_URIS) throw new ApiError('INVALID_ARGUMENT', `at most ${MAX_REDIRECT_URIS} redirectUris`);
  for (const uri of uris) {
    const bad = (why: string) => new ApiError('INVALID_ARGUMENT', `redirectUris: "${String(uri).slice(0, 200)}" ${why}`);
    if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2048) throw bad('must be a string of 1 to 2048 characters');
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw bad('is not an absolute URI');
    }
    if (uri.includes('#')) throw bad('must not contain a fragment');
    if (url.username || url.password) throw bad('must not carry credentials');
    if (url.protocol === 'https:') continue;
    if (url.protocol === 'http:') {
      if (!options.production || LOOPBACK_HOSTS.test(url.hostname)) continue;
      throw bad('must use https (http only for a loopback address)');
    }
    if (!/^[a-z][a-z0-9+-]*(?:\.[a-z0-9+-]+)+:$/.test(url.protocol)) throw bad('must use https, or a private-use scheme in reverse domain form');
  }
}

/** Tenants, applications, subscriptions and usage, kept in Redis. */
export class TenancyStore {
  /** Access states by client, tenant and capability; cleared on every change this process makes. */
  private readonly access = new Map<string, { state: AccessState; at: number }>();
  /** Usage counts not yet written: key → field → count. */
  private usage = new Map<string, Map<string, number>>();
  private usageTimer?: NodeJS.Timeout;
  private usageFlush?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
  ) {
    redis.defineCommand('egCreateIfAbsent', { numberOfKeys: 2, lua: CREATE_IF_ABSENT });
  }

  /**
   * A counter incremented by every change to tenants, applications and subscriptions. The rate
   * limiter reads it in the same step as it counts a call, so a process serving from its cache
   * learns of a change made anywhere (a suspension, say) on the very next call.
   */
  get generationKey(): string {
    return generationKeyOf(this.key);
  }

  /** Records that tenancy data changed: the local cache is dropped and every process will reload. */
  private async changed(): Promise<void> {
    // Cleared before and after: a read that was under way while the counter moved must not stay cached.
    this.access.clear();
    await this.redis.incr(this.generationKey);
    this.access.clear();
  }

  private async createIfAbsent(hashKey: string, indexKey: string, member: string, fields: Record<string, string>): Promise<boolean> {
    const args = [member, ...Object.entries(fields).flat()];
    const created = await (this.redis as unknown as { egCreateIfAbsent(...a: string[]): Promise<number> }).egCreateIfAbsent(hashKey, indexKey, ...args);
    return created === 1;
  }

  // --- tenants -------------------------------------------------------------------------------

  async createTenant(input: { id: string; name: string }): Promise<Tenant> {
    const tenant: Tenant = { id: input.id, name: input.name, status: 'ACTIVE', createdAt: new Date().toISOString() };
    const created = await this.createIfAbsent(this.key('tenant', tenant.id), this.key('tenants'), tenant.id, { ...tenant });
    if (!created) throw new ApiError('ALREADY_EXISTS', `tenant ${input.id} already exists`);
    return tenant;
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const h = await this.redis.hgetall(this.key('tenant', id));
    return h.id ? (h as unknown as Tenant) : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const ids = (await this.redis.smembers(this.key('tenants'))).sort();
    const tenants = await Promise.all(ids.map((id) => this.getTenant(id)));
    return tenants.filter((t): t is Tenant => !!t);
  }

  async setTenantStatus(id: string, status: Status): Promise<Tenant> {
    const tenant = await this.requireTenant(id);
    await this.redis.hset(this.key('tenant', id), 'status', status);
    await this.changed();
    return { ...tenant, status };
  }

  async requireTenant(id: string): Promise<Tenant> {
    const tenant = await this.getTenant(id);
    if (!tenant) throw new ApiError('NOT_FOUND', `tenant ${id} not found`);
    return tenant;
  }

  // --- applications --------------------------------------------------------------------------

  /** Creates an application; the clear secret is in the result only this once. */
  async createApplication(tenantId: string, input: NewApplication): Promise<{ application: Application; clientSecret?: string }> {
    await this.requireTenant(tenantId);
    const clientId = input.clientId ?? `app-${generateSecret().slice(0, 16)}`;
    const clientSecret = input.secret === false ? undefined : typeof input.secret === 'string' ? input.secret : generateSecret();
    if (!clientSecret && !input.jwks && !input.jwksUri) {
      throw new ApiError('INVALID_ARGUMENT', 'an application needs a client secret, a jwks or a jwksUri to authenticate');
    }
    const fields: Record<string, string> = {
      clientId,
      tenantId,
      name: input.name,
      status: 'ACTIVE',
      createdAt: new Date().toISOString(),
      notificationHosts: JSON.stringify(input.notificationHosts ?? []),
      redirectUris: JSON.stringify(input.redirectUris ?? []),
    };
    if (clientSecret) fields.secretHash = await hashSecret(clientSecret);
    if (input.jwks) fields.jwks = JSON.stringify(input.jwks);
    if (input.jwksUri) fields.jwksUri = input.jwksUri;
    if (input.sinkTokenEndpoint) fields.sinkTokenEndpoint = input.sinkTokenEndpoint;
    if (input.sinkClientId) fields.sinkClientId = input.sinkClientId;
    const created = await this.createIfAbsent(this.key('app', clientId), this.key('tenant', tenantId, 'apps'), clientId, fields);
    if (!created) throw new ApiError('ALREADY_EXISTS', `application ${clientId} already exists`);
    return { application: toApplication(fields), clientSecret };
  }

  async getApplication(clientId: string): Promise<Application | undefined> {
    const h = await this.redis.hgetall(this.key('app', clientId));
    return h.clientId ? toApplication(h) : undefined;
  }

  /** The stored secret hash, for client authentication only. */
  async getSecretHash(clientId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('app', clientId), 'secretHash')) ?? undefined;
  }

  /** Finds an application of a tenant; another tenant's application is reported as not found. */
  async requireApplication(tenantId: string, clientId: string): Promise<Application> {
    const app = await this.getApplication(clientId);
    if (!app || app.tenantId !== tenantId) throw new ApiError('NOT_FOUND', `application ${clientId} not found in tenant ${tenantId}`);
    return app;
  }

  async listApplications(tenantId: string): Promise<Application[]> {
    await this.requireTenant(tenantId);
    const ids = (await this.redis.smembers(this.key('tenant', tenantId, 'apps'))).sort();
    const apps = await Promise.all(ids.map((id) => this.getApplication(id)));
    return apps.filter((a): a is Application => !!a);
  }

  async updateApplication(
    tenantId: string,
    clientId: string,
    patch: {
      name?: string;
      jwks?: JSONWebKeySet | null;
      jwksUri?: string | null;
      notificationHosts?: string[];
      sinkTokenEndpoint?: string | null;
      sinkClientId?: string | null;
      redirectUris?: string[];
    },
  ): Promise<Application> {
    await this.requireApplication(tenantId, clientId);
    const k = this.key('app', clientId);
    const multi = this.redis.multi();
    if (patch.name !== undefined) multi.hset(k, 'name', patch.name);
    if (patch.notificationHosts !== undefined) multi.hset(k, 'notificationHosts', JSON.stringify(patch.notificationHosts));
    if (patch.redirectUris !== undefined) multi.hset(k, 'redirectUris', JSON.stringify(patch.redirectUris));
    if (patch.jwks === null) multi.hdel(k, 'jwks');
    else if (patch.jwks !== undefined) multi.hset(k, 'jwks', JSON.stringify(patch.jwks));
    if (patch.jwksUri === null) multi.hdel(k, 'jwksUri');
    else if (patch.jwksUri !== undefined) multi.hset(k, 'jwksUri', patch.jwksUri);
    for (const field of ['sinkTokenEndpoint', 'sinkClientId'] as const) {
      if (patch[field] === null) multi.hdel(k, field);
      else if (patch[field] !== undefined) multi.hset(k, field, patch[field]);
    }
    await multi.exec();
    await this.changed();
    return (await this.getApplication(clientId))!;
  }

  async setApplicationStatus(tenantId: string, clientId: string, status: Status): Promise<Application> {
    const app = await this.requireApplication(tenantId, clientId);
    await this.redis.hset(this.key('app', clientId), 'status', status);
    await this.changed();
    return { ...app, status };
  }

  /** Replaces the client secret; the old one stops working at once. */
  async rotateSecret(tenantId: string, clientId: string): Promise<string> {
    await this.requireApplication(tenantId, clientId);
    const secret = generateSecret();
    await this.redis.hset(this.key('app', clientId), 'secretHash', await hashSecret(secret));
    return secret;
  }

  async deleteApplication(tenantId: string, clientId: string): Promise<void> {
    await this.requireApplication(tenantId, clientId);
    await this.redis
      .multi()
      .del(this.key('app', clientId), this.key('subs', clientId))
      .srem(this.key('tenant', tenantId, 'apps'), clientId)
      .exec();
    await this.changed();
  }

  // --- subscriptions -------------------------------------------------------------------------

  /** Creates or replaces the subscription of an application to a capability. */
  async putSubscription(clientId: string, capability: string, plan: Plan, status: Status = 'ACTIVE'): Promise<Subscription> {
    const existing = await this.getSubscription(clientId, capability);
    const sub: Subscription = { clientId, capability, plan, status, createdAt: existing?.createdAt ?? new Date().toISOString() };
    await this.redis.hset(this.key('subs', clientId), capability, JSON.stringify(sub));
    await this.changed();
    return sub;
  }

  /** Creates a subscription only if the application has none for that capability (bootstrap). */
  async ensureSubscription(clientId: string, capability: string, plan: Plan): Promise<boolean> {
    const sub: Subscription = { clientId, capability, plan, status: 'ACTIVE', createdAt: new Date().toISOString() };
    const created = (await this.redis.hsetnx(this.key('subs', clientId), capability, JSON.stringify(sub))) === 1;
    if (created) await this.changed();
    return created;
  }

  async getSubscription(clientId: string, capability: string): Promise<Subscription | undefined> {
    const raw = await this.redis.hget(this.key('subs', clientId), capability);
    return raw ? (JSON.parse(raw) as Subscription) : undefined;
  }

  async listSubscriptions(clientId: string): Promise<Subscription[]> {
    const all = await this.redis.hgetall(this.key('subs', clientId));
    return Object.values(all)
      .map((raw) => JSON.parse(raw) as Subscription)
      .sort((a, b) => a.capability.localeCompare(b.capability));
  }

  async deleteSubscription(clientId: string, capability: string): Promise<boolean> {
    const deleted = (await this.redis.hdel(this.key('subs', clientId), capability)) === 1;
    await this.changed();
    return deleted;
  }

  /**
   * Everything the request path needs to authorise a call, read in one atomic step with the
   * tenancy generation: the application, its tenant and its subscription to the capability.
   * Served from this process's cache unless `fresh`; callers compare the generation with the one
   * the rate limiter returns and ask again with `fresh` when they differ.
   */
  async accessState(clientId: string, tenantId: string, capability: string, fresh = false): Promise<AccessState> {
    const cacheKey = `${clientId}\u0000${tenantId}\u0000${capability}`;
    const hit = this.access.get(cacheKey);
    if (hit && !fresh && Date.now() - hit.at < ACCESS_CACHE_MS) return hit.state;
    const state = await this.loadAccessState(clientId, tenantId, capability);
    // Only a known application is kept: unknown clients must not fill the cache.
    if (state.app) {
      if (this.access.size >= ACCESS_CACHE_SIZE) this.access.delete(this.access.keys().next().value!);
      this.access.set(cacheKey, { state, at: Date.now() });
    }
    return state;
  }

  private async loadAccessState(clientId: string, tenantId: string, capability: string): Promise<AccessState> {
    const results =
      (await this.redis
        .multi()
        .hgetall(this.key('app', clientId))
        .hget(this.key('tenant', tenantId), 'status')
        .hget(this.key('subs', clientId), capability)
        .get(this.generationKey)
        .exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const appHash = results[0][1] as Record<string, string>;
    const tenantStatus = results[1][1] as string | null;
    const subRaw = results[2][1] as string | null;
    return {
      app: appHash.clientId ? toApplication(appHash) : undefined,
      tenant: tenantStatus ? ({ id: tenantId, status: tenantStatus } as Tenant) : undefined,
      subscription: subRaw ? (JSON.parse(subRaw) as Subscription) : undefined,
      generation: Number(results[3][1] ?? 0),
    };
  }

  // --- usage ---------------------------------------------------------------------------------

  /**
   * Counts one answered call: `capability.operation` by status class (2xx, 4xx, 5xx). Counts are
   * added up in memory and written together every {@link USAGE_FLUSH_MS} and when the process
   * stops, so the request path pays no Redis round trip for them.
   */
  recordUsage(clientId: string, capability: string, operation: string, status: number, when = new Date()): void {
    const k = this.key('usage', clientId, when.toISOString().slice(0, 10));
    const field = `${capability}.${operation}|${Math.floor(status / 100)}xx`;
    let fields = this.usage.get(k);
    if (!fields) this.usage.set(k, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + 1);
    this.usageTimer ??= setTimeout(() => void this.flushUsage().catch(() => {}), USAGE_FLUSH_MS);
  }

  /** Writes the counts gathered so far (one pipeline); a failed write keeps them for the next try. */
  async flushUsage(): Promise<void> {
    await this.usageFlush;
    clearTimeout(this.usageTimer);
    this.usageTimer = undefined;
    if (this.usage.size === 0) return;
    const pending = this.usage;
    this.usage = new Map();
    const pipe = this.redis.pipeline();
    for (const [k, fields] of pending) {
      for (const [field, n] of fields) pipe.hincrby(k, field, n);
      pipe.expire(k, USAGE_TTL_SECONDS);
    }
    this.usageFlush = (async () => {
      const results = (await pipe.exec()) ?? [];
      if (results.some(([err]) => err)) throw results.find(([err]) => err)![0];
    })().catch((err) => {
      // Put them back: a Redis outage delays usage records, it does not lose them.
      for (const [k, fields] of pending) {
        let into = this.usage.get(k);
        if (!into) this.usage.set(k, (into = new Map()));
        for (const [field, n] of fields) into.set(field, (into.get(field) ?? 0) + n);
      }
      this.usageTimer ??= setTimeout(() => void this.flushUsage().catch(() => {}), USAGE_FLUSH_MS * 4);
      throw err;
    });
    try {
      await this.usageFlush;
    } finally {
      this.usageFlush = undefined;
    }
  }

  /** Stops the flush timer after writing what is left. */
  async close(): Promise<void> {
    await this.flushUsage().catch(() => {});
    clearTimeout(this.usageTimer);
    this.usageTimer = undefined;
  }

  /** Usage counters for the last `days` days, newest first. */
  async getUsage(clientId: string, days: number, until = new Date()): Promise<UsageDay[]> {
    await this.flushUsage().catch(() => {});
    const dates = Array.from({ length: days }, (_, i) => new Date(until.getTime() - i * 86_400_000).toISOString().slice(0, 10));
    const pipe = this.redis.pipeline();
    for (const d of dates) pipe.hgetall(this.key('usage', clientId, d));
    const results = (await pipe.exec()) ?? [];
    return dates.map((date, i) => {
      const counters: UsageDay['counters'] = {};
      for (const [field, value] of Object.entries((results[i]?.[1] ?? {}) as Record<string, string>)) {
        const [op, cls] = field.split('|');
        (counters[op] ??= {})[cls] = Number(value);
      }
      return { date, counters };
    });
  }
}

function toApplication(h: Record<string, string>): Application {
  return {
    clientId: h.clientId,
    tenantId: h.tenantId,
    name: h.name,
    status: h.status as Status,
    createdAt: h.createdAt,
    jwks: h.jwks ? (JSON.parse(h.jwks) as JSONWebKeySet) : undefined,
    jwksUri: h.jwksUri || undefined,
    notificationHosts: h.notificationHosts ? (JSON.parse(h.notificationHosts) as string[]) : [],
    sinkTokenEndpoint: h.sinkTokenEndpoint || undefined,
    sinkClientId: h.sinkClientId || undefined,
    hasSecret: !!h.secretHash,
    redirectUris: h.redirectUris ? (JSON.parse(h.redirectUris) as string[]) : [],
  };
}
