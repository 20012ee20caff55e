import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { BootstrapDocument } from '../tenancy/bootstrap.ts';
import { endpointsFromEnv, type NetworkEndpoints } from '../southbound.ts';

export type Role = 'gateway' | 'worker' | 'simulators';
export const ALL_ROLES: readonly Role[] = ['gateway', 'worker', 'simulators'];

/** Everything a gateway process needs to know, resolved once at start-up. */
export interface GatewayConfig {
  /** `NODE_ENV`. @defaultValue 'development' */
  env: string;
  /** HTTP port (`PORT`). @defaultValue 8080 */
  port: number;
  /** Interface the HTTP server binds to (`HOST`). @defaultValue '0.0.0.0' */
  host: string;
  /** Public base URL; the token issuer and audience (`PUBLIC_URL`). @defaultValue `http://localhost:${port}` */
  publicUrl: string;
  /** Bearer token of the operator API (`ADMIN_TOKEN`). */
  adminToken: string;
  /** True when the admin token was generated for this run and should be printed. */
  adminTokenGenerated: boolean;
  /** `REDIS_URL`; when absent `npm start` runs a private redis-server. */
  redisUrl?: string;
  /** Key prefix of everything the gateway stores (`REDIS_PREFIX`); use a hash tag such as `{eg}` on Redis Cluster. @defaultValue 'eg' */
  redisPrefix: string;
  /** Where the private redis-server keeps its append-only file (`REDIS_DIR`). @defaultValue './var/redis' */
  redisDir: string;
  /** `LOG_LEVEL`. @defaultValue 'info' */
  logLevel: string;
  /** Largest request body accepted. @defaultValue 64 KiB */
  bodyLimitBytes: number;
  /** Lifetime of access tokens (`ACCESS_TOKEN_TTL`). @defaultValue 600 s */
  accessTokenTtlSeconds: number;
  /** Clock skew tolerated when checking token times. @defaultValue 10 s */
  clockToleranceSeconds: number;
  /** How long SIGTERM may take before the process exits anyway (`SHUTDOWN_TIMEOUT_MS`). @defaultValue 10000 */
  shutdownTimeoutMs: number;
  /** Concurrency of each queue's worker (`WORKER_CONCURRENCY`). @defaultValue 50 */
  workerConcurrency: number;
  /**
   * How long a worker's lock on an active job lasts without renewal, and how often workers look for
   * jobs whose lock ran out (`WORKER_LOCK_MS`): a job whose worker died runs again after about one to
   * two of these. Shorter recovers sooner but re-runs jobs of a worker whose event loop stalls that long.
   * @defaultValue 30000
   */
  workerLockMs: number;
  /** Path of the bootstrap YAML (`GATEWAY_CONFIG`). @defaultValue 'config/demo.yaml' */
  bootstrapPath: string;
  /** The parsed bootstrap document. */
  bootstrap: BootstrapDocument;
  /**
   * Where the network is (`PCF_URL`, `SUBSCRIBER_API_URL`, `N5_CALLBACK_PORT`, `N5_CALLBACK_URL`).
   * Unset: `npm start` runs the simulated network and fills this in.
   */
  network?: NetworkEndpoints;
  /**
   * Proxies whose X-Forwarded-For / Forwarded headers name the device a request comes from: the
   * carrier's data-path proxy (`TRUSTED_PROXIES`, addresses or CIDR blocks, comma-separated).
   * @defaultValue loopback outside production, none in production
   */
  trustedProxies: string[];
  /** Secret that phone numbers are HMAC-ed and encrypted with (`NUMBER_KEY`, 32 bytes, hex or base64); required in production. */
  numberKey?: string;
  /**
   * The RADIUS accounting listener (RFC 2866) that learns which subscriber holds which address
   * (`RADIUS_ACCT_PORT`, `RADIUS_ACCT_HOST`, `RADIUS_SECRET`). Unset: not started.
   */
  radius?: { port: number; host: string; secret: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function listFrom(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function radiusFrom(env: Env): GatewayConfig['radius'] {
  if (env.RADIUS_ACCT_PORT === undefined || env.RADIUS_ACCT_PORT === '') return undefined;
  const port = intFrom(env, 'RADIUS_ACCT_PORT', 1813);
  const secret = env.RADIUS_SECRET ?? '';
  if (!secret) throw new ConfigError('RADIUS_SECRET must be set when RADIUS_ACCT_PORT is');
  return { port, host: env.RADIUS_ACCT_HOST || '127.0.0.1', secret };
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a YAML document, so secrets stay in
 * the environment and out of files.
 */
export function interpolate<T>(value: T, env: Env): T {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`environment variable ${name} is referenced by the configuration but not set`);
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)])) as T;
  }
  return value;
}

/** Reads and interpolates a bootstrap YAML file. */
export function loadBootstrap(path: string, env: Env = process.env): BootstrapDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read GATEWAY_CONFIG file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new ConfigError(`${path} must contain a YAML mapping`);
  return interpolate(doc as BootstrapDocument, env);
}

/** Resolves the configuration from the environment (and the bootstrap file it names). */
export function loadConfig(env: Env = process.env, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const nodeEnv = env.NODE_ENV || 'development';
  const port = intFrom(env, 'PORT', 8080);
  let adminToken = env.ADMIN_TOKEN ?? '';
  let adminTokenGenerated = false;
  if (!adminToken) {
    if (nodeEnv === 'production') throw new ConfigError('ADMIN_TOKEN must be set when NODE_ENV=production');
    adminToken = randomBytes(24).toString('base64url');
    adminTokenGenerated = true;
  } else if (adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN must be at least 16 characters long');
  }
  // Phone numbers are HMAC-ed and sealed with this key; a production deployment must own it.
  if (nodeEnv === 'production' && !env.NUMBER_KEY) throw new ConfigError('NUMBER_KEY must be set when NODE_ENV=production (32 random bytes, hex or base64: openssl rand -hex 32)');
  const bootstrapPath = env.GATEWAY_CONFIG || 'config/demo.yaml';
  const config: GatewayConfig = {
    env: nodeEnv,
    port,
    host: env.HOST || '0.0.0.0',
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    adminToken,
    adminTokenGenerated,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.REDIS_PREFIX || 'eg',
    redisDir: env.REDIS_DIR || 'var/redis',
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: intFrom(env, 'BODY_LIMIT_BYTES', 64 * 1024),
    accessTokenTtlSeconds: intFrom(env, 'ACCESS_TOKEN_TTL', 600),
    clockToleranceSeconds: 10,
    shutdownTimeoutMs: intFrom(env, 'SHUTDOWN_TIMEOUT_MS', 10_000),
    workerConcurrency: intFrom(env, 'WORKER_CONCURRENCY', 50),
    workerLockMs: intFrom(env, 'WORKER_LOCK_MS', 30_000),
    bootstrapPath,
    bootstrap: overrides.bootstrap ?? loadBootstrap(bootstrapPath, env),
    network: endpointsFromEnv(env),
    trustedProxies: listFrom(env, 'TRUSTED_PROXIES') ?? (nodeEnv === 'production' ? [] : ['127.0.0.0/8', '::1']),
    numberKey: env.NUMBER_KEY || undefined,
    radius: radiusFrom(env),
    ...overrides,
  };
  // A lock shorter than a Redis round trip or two would be lost by healthy workers.
  if (config.workerLockMs < 100) throw new ConfigError(`WORKER_LOCK_MS must be at least 100, got ${config.workerLockMs}`);
  return config;
}
