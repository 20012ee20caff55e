import type { Plan } from '../../tenancy/types.ts';

export const CAPABILITY = 'one-click-login';

/** A fixed-window rate: at most `requests` per `windowSeconds`. */
export interface Rate {
  requests: number;
  windowSeconds: number;
}

/** What the bootstrap YAML may say about one-click login (`oneClickLogin:`); every field is optional. */
export interface OneClickLoginBootstrap {
  /**
   * Seconds a token can be exchanged, unless the application's subscription says otherwise.
   * China Mobile's tokens live 2 minutes; CAMARA Number Verification allows at most 300 s.
   * @defaultValue 120
   */
  tokenTtlSeconds?: number;
  /**
   * Seconds a used or expired token is remembered after it expired, so that a late or replayed
   * exchange is told "expired" or "already used" rather than "invalid". @defaultValue 3600
   */
  usedTokenRetentionSeconds?: number;
  /** Token requests one data-path address may make. @defaultValue 10 per 60 s */
  addressRate?: Rate;
  /**
   * Unused tokens one phone number may hold within the window (China Mobile: 30 in 10 minutes).
   * A token leaves the count once it is exchanged. @defaultValue 30 per 600 s
   */
  unusedTokensPerNumber?: { max: number; windowSeconds: number };
  /** Token requests per application when its subscription sets no `issuanceRate`. @defaultValue the plan's `rateLimit` */
  issuanceRate?: Rate;
}

/**
 * What an application's subscription may set in its plan's `limits`:
 * - `tokenTtlSeconds`: overrides the deployment's token lifetime for this application (1..300);
 * - `issuanceRate`: `{requests, windowSeconds}` of token requests for this application;
 * - `simSwapWindowHours`: refuse to vouch for a number whose SIM was swapped this recently;
 * - `appSignatures`: package signatures / bundle ids the SDK must present.
 */
export interface OneClickLoginPlanLimits {
  tokenTtlSeconds?: number;
  issuanceRate?: Rate;
  simSwapWindowHours?: number;
  appSignatures?: string[];
}

/** The deployment's settings with every default applied. */
export interface OneClickLoginSettings {
  tokenTtlSeconds: number;
  usedTokenRetentionSeconds: number;
  addressRate: Rate;
  unusedTokensPerNumber: { max: number; windowSeconds: number };
  issuanceRate?: Rate;
}

/** CAMARA Number Verification: a network-issued token lives at most 300 s. */
const MAX_TOKEN_TTL_SECONDS = 300;

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

function rateOf(v: unknown): Rate | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const { requests, windowSeconds } = v as Record<string, unknown>;
  const r = positive(requests);
  const w = positive(windowSeconds);
  return r && w ? { requests: Math.floor(r), windowSeconds: Math.ceil(w) } : undefined;
}

const clampTtl = (seconds: number) => Math.min(MAX_TOKEN_TTL_SECONDS, Math.max(1, Math.round(seconds)));

/** Applies the defaults to the bootstrap's `oneClickLogin` section. */
export function resolveSettings(raw: OneClickLoginBootstrap = {}): OneClickLoginSettings {
  const perNumber = raw.unusedTokensPerNumber;
  return {
    tokenTtlSeconds: clampTtl(positive(raw.tokenTtlSeconds) ?? 120),
    usedTokenRetentionSeconds: Math.ceil(positive(raw.usedTokenRetentionSeconds) ?? 3600),
    addressRate: rateOf(raw.addressRate) ?? { requests: 10, windowSeconds: 60 },
    unusedTokensPerNumber: {
      max: Math.floor(positive(perNumber?.max) ?? 30),
      windowSeconds: Math.ceil(positive(perNumber?.windowSeconds) ?? 600),
    },
    issuanceRate: rateOf(raw.issuanceRate),
  };
}

/** One application's effective policy, from its subscription plan over the deployment's settings. */
export interface ApplicationPolicy {
  tokenTtlSeconds: number;
  issuanceRate: Rate;
  /** Undefined: the application does not check SIM swaps. */
  simSwapWindowHours?: number;
  /** Undefined: any (or no) app signature is accepted. */
  appSignatures?: string[];
}

/**
 * Reads the plan's capability limits. The operator sets them through the admin API as free-form
 * JSON, so a malformed value falls back to the default instead of failing every request.
 */
export function policyOf(plan: Plan, settings: OneClickLoginSettings): ApplicationPolicy {
  const limits = (plan.limits ?? {}) as Record<string, unknown>;
  const ttl = positive(limits.tokenTtlSeconds);
  const signatures = Array.isArray(limits.appSignatures) ? limits.appSignatures.filter((s): s is string => typeof s === 'string') : undefined;
  return {
    tokenTtlSeconds: ttl ? clampTtl(ttl) : settings.tokenTtlSeconds,
    issuanceRate: rateOf(limits.issuanceRate) ?? settings.issuanceRate ?? plan.rateLimit,
    simSwapWindowHours: positive(limits.simSwapWindowHours),
    appSignatures: signatures?.length ? signatures : undefined,
  };
}
