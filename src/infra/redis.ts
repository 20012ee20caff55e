import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';

/** A connection to Redis: a single node, a sentinel-managed master, or a cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for.
 * - `command`: the request path. Commands fail at once while Redis is unreachable (no offline
 *   queue, one retry) so the API answers 503 instead of hanging, and recovers by itself when Redis returns.
 * - `blocking`: BullMQ workers. They wait for Redis as long as it takes (`maxRetriesPerRequest: null`,
 *   as BullMQ requires for blocking commands).
 */
export type ConnectionPurpose = 'command' | 'blocking';

export class RedisConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisConfigError';
  }
}

interface ParsedUrl {
  kind: 'single' | 'sentinel' | 'cluster';
  hosts: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
  masterName?: string;
}

/**
 * Parses `REDIS_URL`:
 * - `redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS);
 * - `redis+sentinel://[user:pass@]host1:26379,host2:26379/<masterName>[/db]`;
 * - `redis+cluster://[user:pass@]host1:7001,host2:7002` (use a hash-tag `REDIS_PREFIX` such as `{eg}`).
 */
export function parseRedisUrl(url: string): ParsedUrl {
  const m = /^(redis|rediss|redis\+sentinel|redis\+cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  if (!m) throw new RedisConfigError(`REDIS_URL "${redact(url)}" is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL`);
  const [, scheme, user, pass, hostList, rest = ''] = m;
  const hosts = hostList.split(',').map((h) => {
    const hm = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(h);
    if (!hm) throw new RedisConfigError(`bad host "${h}" in REDIS_URL`);
    return { host: hm[1], port: hm[2] ? Number(hm[2]) : scheme === 'redis+sentinel' ? 26379 : 6379 };
  });
  const segments = rest.split('/').filter(Boolean);
  const parsed: ParsedUrl = {
    kind: scheme === 'redis+sentinel' ? 'sentinel' : scheme === 'redis+cluster' ? 'cluster' : 'single',
    hosts,
    username: user ? decodeURIComponent(user) : undefined,
    password: pass ? decodeURIComponent(pass) : undefined,
    tls: scheme === 'rediss',
  };
  if (parsed.kind === 'sentinel') {
    if (!segments[0]) throw new RedisConfigError('redis+sentinel:// URLs name the master: redis+sentinel://host:26379/mymaster');
    parsed.masterName = segments[0];
    if (segments[1]) parsed.db = Number(segments[1]);
  } else if (segments[0]) {
    parsed.db = Number(segments[0]);
  }
  if (parsed.db !== undefined && !Number.isInteger(parsed.db)) throw new RedisConfigError('the database in REDIS_URL must be a number');
  if (parsed.kind === 'single' && hosts.length !== 1) throw new RedisConfigError('redis:// URLs take exactly one host');
  return parsed;
}

/** The URL with any password replaced, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function optionsFor(purpose: ConnectionPurpose): RedisOptions {
  const base: RedisOptions = {
    // Reconnect forever with a capped back-off: the gateway must heal when Redis comes back.
    retryStrategy: (times) => Math.min(100 * times, 2000),
    connectTimeout: 3000,
    lazyConnect: false,
  };
  if (purpose === 'command') {
    return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000 };
  }
  return { ...base, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

/**
 * Opens a connection for the given purpose. Command connections send the commands of one turn of
 * the event loop in one write; `batchWrites` says otherwise, for any purpose (a cluster's own
 * node connections are batched by ioredis's auto-pipelining instead, commands only).
 */
export function createRedis(url: string, purpose: ConnectionPurpose, name = 'exposure-gateway', o: { batchWrites?: boolean } = {}): RedisClient {
  const p = parseRedisUrl(url);
  const batch = o.batchWrites ?? purpose === 'command';
  const options: RedisOptions = {
    ...optionsFor(purpose),
    connectionName: name,
    username: p.username,
    password: p.password,
    db: p.db,
    tls: p.tls ? {} : undefined,
  };
  if (p.kind === 'cluster') {
    const clusterOptions: ClusterOptions = {
      redisOptions: options,
      enableOfflineQueue: options.enableOfflineQueue,
      enableAutoPipelining: batch && purpose === 'command',
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    };
    return new Cluster(p.hosts, clusterOptions);
  }
  const client = p.kind === 'sentinel' ? new Redis({ ...options, sentinels: p.hosts, name: p.masterName }) : new Redis({ ...options, host: p.hosts[0].host, port: p.hosts[0].port });
  if (batch) writeOncePerTurn(client);
  return client;
}

/**
 * Sends the commands issued in one turn of the event loop in one write: the socket is corked at
 * the first command and uncorked in the turn's check phase, as ioredis's auto-pipelining would
 * flush, so that under load the commands of many requests share one syscall. Auto-pipelining
 * itself builds a Pipeline per turn that copies a method for every script defined on the
 * connection and holds it until the replies arrive: a few kilobytes per request step, enough to
 * make V8 promote them into the old generation and collect it every few seconds.
 */
function writeOncePerTurn(client: Redis): void {
  const send = client.sendCommand;
  let corked: Redis['stream'] | undefined;
  const uncork = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  client.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const socket = this.stream;
    if (!corked && socket?.writable && this.status === 'ready') {
      socket.cork();
      corked = socket;
      setImmediate(uncork);
    }
    return send.apply(this, args);
  };
  // BullMQ's workers run on duplicates of the connection they are given: those batch too.
  const duplicate = client.duplicate;
  client.duplicate = function (this: Redis, ...args: Parameters<Redis['duplicate']>) {
    const copy = duplicate.apply(this, args);
    writeOncePerTurn(copy);
    return copy;
  };
}

/** Waits until a connection is ready, or fails with a message that says where it tried. */
export async function waitReady(client: RedisClient, url: string, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error) => {
      lastError = err;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new RedisConfigError(`cannot reach Redis at ${redact(url)}${lastError ? `: ${lastError.message}` : ''}`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/**
 * Refuses a Redis whose eviction policy can drop keys: BullMQ jobs and sessions are keys, and an
 * evicted job is a lost request. Only `noeviction` is safe.
 */
export async function assertNoEviction(client: RedisClient): Promise<void> {
  const node = client instanceof Cluster ? client.nodes('master')[0] : client;
  if (!node) return;
  const info = await node.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy && policy !== 'noeviction') {
    throw new RedisConfigError(
      `Redis maxmemory-policy is "${policy}", which can evict queued jobs and sessions. ` +
        'Set "maxmemory-policy noeviction" in redis.conf (or run CONFIG SET maxmemory-policy noeviction) and start again.',
    );
  }
}

/** Raised before a command is even tried because the connection is not ready. */
export class RedisUnavailableError extends Error {
  constructor(message = 'Redis is not reachable') {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

/** Fails at once unless the connection is ready (for code paths that would otherwise wait for it). */
export function assertConnected(client: RedisClient): void {
  if (client.status !== 'ready') throw new RedisUnavailableError(`Redis connection is ${client.status}`);
}

const UNAVAILABLE_PATTERNS = [
  /Stream isn't writeable/i,
  /Connection is closed/i,
  /Command timed out/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/,
  /^LOADING /,
  /^CLUSTERDOWN/,
  /^MASTERDOWN/,
  /^READONLY/,
  /Reached the max retries per request limit/i,
  /None of startup nodes is available/i,
];

/** True when an error means "Redis cannot be reached right now" rather than a bug. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'RedisUnavailableError') return true;
  return UNAVAILABLE_PATTERNS.some((re) => re.test(err.message));
}

/** Builds keys under the gateway's prefix: `keys('app', id)` → `eg:app:<id>`. */
export type KeyBuilder = (...parts: Array<string | number>) => string;

export function keyBuilder(prefix: string): KeyBuilder {
  return (...parts) => [prefix, ...parts].join(':');
}
