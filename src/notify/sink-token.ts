import type { Keyring } from '../auth/keyring.ts';
import { boundedFetch, describeFetchError } from './delivery.ts';

/** RFC 7523 §2.2. */
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The `typ` draft-ietf-oauth-rfc7523bis registers for client assertions, so they cannot pass for another kind of JWT. */
const ASSERTION_TYP = 'client-authentication+jwt';
/** Client assertions live only long enough to reach the token endpoint. */
const ASSERTION_TTL_SECONDS = 60;
/** A cached token is renewed this long (at most) before it expires, so none is sent about to lapse. */
const RENEW_BEFORE_MS = 30_000;

/** A token endpoint that did not give us a token. Never carries the assertion or a token. */
export class SinkTokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SinkTokenError';
  }
}

/** Where the gateway gets tokens for one client's sinks (pre-shared at onboarding). */
export interface SinkTokenSource {
  tokenEndpoint: string;
  clientId: string;
}

/**
 * Access tokens for PRIVATE_KEY_JWT sinks (CAMARA_event_common `PrivateKeyJWTCredential`): a
 * client-credentials grant at the client's authorization server, authenticated with an RFC 7523
 * assertion signed by the gateway's keyring key, which the client verifies with our published
 * JWKS. Tokens are cached in memory until shortly before they expire; concurrent requests for
 * the same token share one call.
 */
export class SinkTokens {
  private readonly cache = new Map<string, { token: string; renewAt: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly keyring: Keyring,
    private readonly timeoutMs: number,
  ) {}

  private static id(s: SinkTokenSource): string {
    return `${s.clientId} ${s.tokenEndpoint}`;
  }

  async get(source: SinkTokenSource, signal: AbortSignal): Promise<string> {
    const id = SinkTokens.id(source);
    const cached = this.cache.get(id);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.fetchToken(source, signal).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return await pending;
  }

  /** Drops a cached token the sink refused (401), so the next attempt fetches a fresh one. */
  forget(source: SinkTokenSource): void {
    this.cache.delete(SinkTokens.id(source));
  }

  private async fetchToken(source: SinkTokenSource, signal: AbortSignal): Promise<string> {
    // RFC 7523 §3: iss = sub = our client id there, aud = the token endpoint, short exp, unique jti.
    const assertion = await this.keyring.sign({ iss: source.clientId, sub: source.clientId, aud: source.tokenEndpoint }, ASSERTION_TTL_SECONDS, ASSERTION_TYP);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: source.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
    });
    const started = Date.now();
    let res: Response;
    try {
      res = await boundedFetch(source.tokenEndpoint, { method: 'POST', headers: { accept: 'application/json' }, body }, this.timeoutMs, signal);
    } catch (err) {
      throw new SinkTokenError(`token endpoint unreachable: ${describeFetchError(err, this.timeoutMs)}`, { cause: err });
    }
    let reply: { access_token?: unknown; token_type?: unknown; expires_in?: unknown; error?: unknown } = {};
    try {
      reply = (await res.json()) as typeof reply;
    } catch {
      // Judged below by status and fields.
    }
    if (res.status !== 200) {
      const code = typeof reply.error === 'string' && /^[\w.-]{1,64}$/.test(reply.error) ? ` (${reply.error})` : '';
      throw new SinkTokenError(`token endpoint answered ${res.status}${code}`);
    }
    if (typeof reply.access_token !== 'string' || !reply.access_token || String(reply.token_type).toLowerCase() !== 'bearer') {
      throw new SinkTokenError('token endpoint did not return a bearer access_token');
    }
    const lifetimeMs = typeof reply.expires_in === 'number' && reply.expires_in > 0 ? reply.expires_in * 1000 : 0;
    // Without expires_in (RFC 6749 §5.1 only recommends it) the token is used once, never cached.
    if (lifetimeMs > 0) {
      this.cache.set(SinkTokens.id(source), { token: reply.access_token, renewAt: started + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 5) });
    }
    return reply.access_token;
  }
}
