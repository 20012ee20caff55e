import type { Logger } from '../infra/logger.ts';
import type { GatewayConfig } from '../infra/config.ts';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import type { Principal } from '../auth/access.ts';
import type { JobQueues } from '../jobs/queues.ts';
import type { ProcessorMap } from '../jobs/registry.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import type { Limits } from '../tenancy/limits.ts';
import type { Notifier } from '../notify/index.ts';
import type { AddressResolver, LineController, QosController, SimHistory, SubscriberIdentity } from '../../adapters/ports.ts';
import type { NumberVault } from '../identity/number-vault.ts';
import type { TrustedProxies } from '../identity/client-address.ts';

/** The network behind the gateway, through the southbound ports (adapters/ports.ts). */
export interface Southbound {
  qos: QosController;
  identity: SubscriberIdentity;
  /** SIM history of phone numbers (SIM swap). */
  sims?: SimHistory;
  /** Who holds a data-path address: device identification by source address. */
  addresses?: AddressResolver;
  /** Enterprise dedicated lines in the operator's OSS (TMF638/TMF641). */
  lines?: LineController;
}

/** What an operation handler returns; the HTTP layer writes it. Handlers never touch `res`. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The validated request an operation handler sees. */
export interface ApiRequest<Body = unknown> {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: Body;
  /** The TCP peer of the request (a device, or a proxy in front of it; see identity/client-address.ts). */
  peer: { address?: string; port?: number };
}

export interface RequestContext {
  operationId: string;
  correlator: string;
  log: Logger;
  /** Set for every operation that has a security requirement. */
  principal?: Principal;
  /** What the operation's {@link Prefetch} read, when it has one. */
  prefetched?: Promise<unknown>;
}

export type OperationHandler = (req: ApiRequest<any>, ctx: RequestContext) => Promise<Reply> | Reply;

/**
 * The first read an operation's handler makes, started together with the request's admission
 * (rate limit and quota), so that both reach Redis in one write and come back in one read: one
 * round trip where there were two. It runs on a valid request from an authenticated client that
 * may still be refused, so it must change nothing; its failure is the handler's to meet.
 */
export type Prefetch = (req: ApiRequest<any>) => Promise<unknown>;

/** One OpenAPI document and the handlers of its operations, by operationId. */
export interface ApiDefinition {
  /** Absolute path of the OpenAPI 3.0.3 document; its `servers[0].url` gives the base path. */
  document: string;
  handlers: Record<string, OperationHandler>;
  /** Reads to start during admission, by operationId (see {@link Prefetch}). */
  prefetch?: Record<string, Prefetch>;
}

/** The platform services a capability is built from. */
export interface PlatformServices {
  config: GatewayConfig;
  redis: RedisClient;
  key: KeyBuilder;
  store: TenancyStore;
  limits: Limits;
  queues: JobQueues;
  logger: Logger;
  /** CloudEvents delivery to clients' sinks. */
  notifier: Notifier;
  /** HMAC, encryption and pseudonyms of phone numbers: none is ever stored or logged in clear. */
  vault: NumberVault;
  /** Proxies whose forwarding headers identify the device behind a request. */
  trustedProxies: TrustedProxies;
  /** Absent in processes that do not talk to the network (and in tests of capabilities that need none). */
  southbound?: Southbound;
}

/** What a capability contributes to a running system. */
export interface CapabilityRuntime {
  apis: ApiDefinition[];
  /** Its part of the operator API (documents served under /admin/v1/<capability>, operator token). */
  adminApis?: ApiDefinition[];
  processors?: ProcessorMap;
  /** Runs once at start-up, before requests are served (seed configuration; idempotent). */
  init?(): Promise<void>;
  /** Starts background work in the worker role (event intake, recovery loops). */
  startBackground?(): void;
  stopBackground?(): Promise<void>;
  /** Writes what it holds in memory (batched writes) before the process stops; every role. */
  close?(): Promise<void>;
}

/**
 * A capability the operator sells (Quality on Demand, Dedicated line, ...): its northbound APIs,
 * its job processors, and the scopes an application subscribed to it may be granted (read from
 * its documents' security requirements).
 */
export interface Capability {
  id: string;
  title: string;
  description: string;
  /** The documents of its APIs, known before the capability is built (for the catalog). */
  documents: string[];
  create(services: PlatformServices): CapabilityRuntime;
}
