import type { KeyBuilder, RedisClient } from '../infra/redis.ts';

/**
 * One security-relevant event: who (application) did what (operation) about which subscriber,
 * with what outcome. Subscribers appear only as the vault's keyed HMAC of their number, so the
 * log can be searched by number (hash the number with the same vault) yet never shows one.
 */
export interface AuditEntry {
  /** ISO 8601. */
  at: string;
  clientId: string;
  /** `<capability>.<operation>`, e.g. `one-click-login.login`. */
  operation: string;
  /** What happened: `ISSUED`, `PASS`, `REJECT`, `UNKNOWN`, or the error code of a refusal. */
  outcome: string;
  /** `NumberVault.hmac` of the subscriber's number; empty when no subscriber is involved. */
  numberHmac: string;
  /** The device's data-path address (`ip` or `ip:port`); empty when none. */
  address: string;
  /** The request's x-correlator, to join the entry with request logs. */
  correlator: string;
  /** An id the client was given for this event (a verification's `verifyId`); empty when none. */
  reference?: string;
}

/** A stored entry with its stream id (time-ordered, unique). */
export interface StoredAuditEntry extends AuditEntry {
  id: string;
}

/** An entry ready to be appended by a script (see {@link AuditLog.prepare}). */
export interface PreparedAuditEntry {
  key: string;
  maxEntries: number;
  fields: string[];
}

export interface AuditLogOptions {
  /**
   * Entries kept per tenant; older ones are trimmed (approximately, which lets Redis trim whole
   * stream nodes at a time).
   * @defaultValue 100000
   */
  maxEntriesPerTenant?: number;
}

const FIELDS = ['at', 'clientId', 'operation', 'outcome', 'numberHmac', 'address', 'correlator', 'reference'] as const;

/**
 * An append-only audit trail per tenant, as a Redis stream (`audit:<tenantId>`). Tenants read
 * only their own; the operator can read any.
 */
export class AuditLog {
  private readonly maxEntries: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    options: AuditLogOptions = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntriesPerTenant ?? 100_000);
  }

  /** Appends an entry; `at` defaults to now. Returns the entry's stream id. */
  async append(tenantId: string, entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<string> {
    const { key, maxEntries, fields } = this.prepare(tenantId, entry);
    const id = await this.redis.xadd(key, 'MAXLEN', '~', maxEntries, '*', ...fields);
    return id!;
  }

  /**
   * The stream, its cap and the field list of an entry, for a script that appends it in the same
   * step as the change it records (`XADD key MAXLEN ~ maxEntries * ...fields`): then the change
   * never happens without its entry.
   */
  prepare(tenantId: string, entry: Omit<AuditEntry, 'at'> & { at?: string }): PreparedAuditEntry {
    const full: AuditEntry = { ...entry, at: entry.at ?? new Date().toISOString() };
    return { key: this.key('audit', tenantId), maxEntries: this.maxEntries, fields: FIELDS.flatMap((f) => [f, full[f] ?? '']) };
  }

  /** The newest entries of a tenant first. @param count at most this many, default 100 */
  async list(tenantId: string, options: { count?: number } = {}): Promise<StoredAuditEntry[]> {
    const rows = await this.redis.xrevrange(this.key('audit', tenantId), '+', '-', 'COUNT', Math.max(1, options.count ?? 100));
    return rows.map(([id, flat]) => {
      const values: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) values[flat[i]] = flat[i + 1];
      return { id, ...(Object.fromEntries(FIELDS.map((f) => [f, values[f] ?? ''])) as unknown as AuditEntry) };
    });
  }
}
