import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, jwtVerify, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';

/** The only algorithm the gateway signs or accepts for its own access tokens. */
export const ACCESS_TOKEN_ALG = 'ES256';

interface StoredKey {
  kid: string;
  createdAt: number;
  /** When this key stopped signing (a newer key became active); unset while active. */
  retiredAt?: number;
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface KeyringOptions {
  /** The longest lifetime of a token signed by these keys, plus clock tolerance, in seconds. */
  maxTokenLifetimeSeconds: number;
}

/**
 * The gateway's ES256 signing keys, shared by every gateway process through Redis.
 *
 * Rotation makes a new key active at once; the previous key stays published in the JWKS and
 * accepted for verification until every token it signed has expired, so rotation never rejects a
 * valid token. Verification keys are cached in memory and reloaded when a token names a `kid`
 * this process has not seen (another process rotated).
 */
export class Keyring {
  private verifyKeys = new Map<string, { key: CryptoKey; retiredAt?: number }>();
  private signing?: { kid: string; key: CryptoKey };

  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly options: KeyringOptions,
  ) {}

  private get hashKey(): string {
    return this.key('signing-keys');
  }

  private get activeKey(): string {
    return this.key('signing-keys', 'active');
  }

  private static async generate(): Promise<StoredKey> {
    const { privateKey, publicKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ACCESS_TOKEN_ALG, use: 'sig' };
    return { kid, createdAt: Date.now(), privateJwk: await exportJWK(privateKey), publicJwk };
  }

  /** Makes sure an active key exists (the first process to start creates it). */
  async init(): Promise<void> {
    if (!(await this.redis.get(this.activeKey))) {
      const fresh = await Keyring.generate();
      await this.redis.hset(this.hashKey, fresh.kid, JSON.stringify(fresh));
      const won = await this.redis.set(this.activeKey, fresh.kid, 'NX');
      if (won !== 'OK') await this.redis.hdel(this.hashKey, fresh.kid);
    }
    await this.reload();
  }

  /** Creates a new active key; returns its `kid`. */
  async rotate(): Promise<string> {
    const fresh = await Keyring.generate();
    const previous = await this.redis.get(this.activeKey);
    const multi = this.redis.multi().hset(this.hashKey, fresh.kid, JSON.stringify(fresh)).set(this.activeKey, fresh.kid);
    if (previous) {
      const old = await this.redis.hget(this.hashKey, previous);
      if (old) multi.hset(this.hashKey, previous, JSON.stringify({ ...(JSON.parse(old) as StoredKey), retiredAt: Date.now() }));
    }
    await multi.exec();
    await this.reload();
    return fresh.kid;
  }

  /** A retired key is kept only as long as a token it signed can still be valid. */
  private expired(k: { retiredAt?: number }, now = Date.now()): boolean {
    return k.retiredAt !== undefined && now - k.retiredAt > this.options.maxTokenLifetimeSeconds * 1000;
  }

  private async reload(): Promise<void> {
    const now = Date.now();
    const [all, active] = await Promise.all([this.redis.hgetall(this.hashKey), this.redis.get(this.activeKey)]);
    const next = new Map<string, { key: CryptoKey; retiredAt?: number }>();
    const stale: string[] = [];
    for (const raw of Object.values(all)) {
      const k = JSON.parse(raw) as StoredKey;
      if (this.expired(k, now)) {
        stale.push(k.kid);
        continue;
      }
      next.set(k.kid, { key: (await importJWK(k.publicJwk, ACCESS_TOKEN_ALG)) as CryptoKey, retiredAt: k.retiredAt });
      if (k.kid === active) this.signing = { kid: k.kid, key: (await importJWK(k.privateJwk, ACCESS_TOKEN_ALG)) as CryptoKey };
    }
    this.verifyKeys = next;
    if (stale.length) await this.redis.hdel(this.hashKey, ...stale);
  }

  /** The public keys (JWKS) that verify tokens still in circulation. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const all = await this.redis.hgetall(this.hashKey);
    const keys = Object.values(all)
      .map((raw) => JSON.parse(raw) as StoredKey)
      .filter((k) => !this.expired(k))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((k) => k.publicJwk);
    return { keys };
  }

  /** Signs claims with the active key as an RFC 9068 access token (`typ: at+jwt`). */
  async sign(claims: JWTPayload, ttlSeconds: number, typ = 'at+jwt'): Promise<string> {
    const active = await this.redis.get(this.activeKey);
    if (!this.signing || this.signing.kid !== active) await this.reload();
    if (!this.signing) throw new Error('no active signing key; was Keyring.init() called?');
    const now = Math.floor(Date.now() / 1000);
    return await new SignJWT(claims)
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: this.signing.kid, typ })
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(claims.jti ?? randomUUID())
      .sign(this.signing.key);
  }

  /**
   * Verifies a token signed by one of our keys. The algorithm is pinned; `exp` is required (jose
   * does not require it by default); issuer and audience must match.
   */
  async verify(token: string, options: { issuer: string; audience: string; clockToleranceSeconds: number; typ?: string }): Promise<JWTPayload> {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        let entry = header.kid ? this.verifyKeys.get(header.kid) : undefined;
        if (!entry && header.kid && (await this.redis.hexists(this.hashKey, header.kid))) {
          // Another process rotated: a kid we have not seen but Redis knows.
          await this.reload();
          entry = this.verifyKeys.get(header.kid);
        }
        if (!entry || this.expired(entry)) throw Object.assign(new Error('unknown signing key'), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
        return entry.key;
      },
      {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'jti'],
        typ: options.typ ?? 'at+jwt',
      },
    );
    return payload;
  }
}
