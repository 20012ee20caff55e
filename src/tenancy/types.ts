import type { JSONWebKeySet } from 'jose';

export type Status = 'ACTIVE' | 'SUSPENDED';

/** An enterprise customer of the operator. */
export interface Tenant {
  id: string;
  name: string;
  status: Status;
  createdAt: string;
}

/** An OAuth2 client of a tenant. Its secret is stored hashed and never returned after creation. */
export interface Application {
  clientId: string;
  tenantId: string;
  name: string;
  status: Status;
  createdAt: string;
  /** Keys for `private_key_jwt` client authentication (RFC 7523), inline. */
  jwks?: JSONWebKeySet;
  /** Or where to fetch them. */
  jwksUri?: string;
  /** Hosts that notification sinks of this application may point at. */
  notificationHosts: string[];
  /** The client's OAuth2 token endpoint, for sinks with a PRIVATE_KEY_JWT credential (pre-shared at onboarding). */
  sinkTokenEndpoint?: string;
  /** The client id the gateway has at that endpoint (`iss` and `sub` of its client assertions). */
  sinkClientId?: string;
  /** True when the application can authenticate with a client secret. */
  hasSecret: boolean;
  /**
   * Where the authorization endpoint may send the user agent back (RFC 6749 §3.1.2): compared by
   * exact string match (OAuth 2.0 Security BCP, RFC 9700 §4.1.3), never by prefix.
   */
  redirectUris: string[];
}

/** Limits an application buys with a capability subscription. */
export interface Plan {
  /** Requests per window, shared by every gateway process. */
  rateLimit: { requests: number; windowSeconds: number };
  /** Calls allowed per day or month; beyond it, 429 QUOTA_EXCEEDED. */
  quota?: { requests: number; period: 'day' | 'month' };
  /** Resources (sessions, calls, ...) the application may hold at once; beyond it, 429 QUOTA_EXCEEDED. */
  maxConcurrentResources?: number;
  /** Capability-specific limits, e.g. `{ allowedQosProfiles: ['QOS_E'] }`. */
  limits?: Record<string, unknown>;
}

/** An application's right to use one capability. */
export interface Subscription {
  clientId: string;
  capability: string;
  plan: Plan;
  status: Status;
  createdAt: string;
}

/** Usage counters of an application for one day: `capability.operationId` → status class → count. */
export interface UsageDay {
  date: string;
  counters: Record<string, Record<string, number>>;
}

export const DEFAULT_PLAN: Plan = {
  rateLimit: { requests: 100, windowSeconds: 1 },
  maxConcurrentResources: 1000,
};
