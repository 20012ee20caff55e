import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from '../infra/logger.ts';
import type { KeyBuilder, RedisClient } from '../infra/redis.ts';
import { ConfigError } from '../infra/config.ts';

/**
 * Keeps phone numbers out of Redis and logs in clear. Three keys are derived (HKDF-SHA256) from
 * one secret, `NUMBER_KEY`:
 * - `hmac`: a keyed HMAC-SHA256 of an E.164 number, for lookups by number (limits, indexes). A plain
 *   SHA-256 of a phone number is reversed by enumerating the numbering plan; a keyed one is not.
 * - `seal`/`open`: AES-256-GCM, where the number itself must come back (token → number).
 * - `pseudonym`: a pairwise subject per client, so two clients cannot correlate a subscriber.
 */
export class NumberVault {
  private readonly hmacKey: Buffer;
  private readonly sealKey: Buffer;
  private readonly pairwiseKey: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new ConfigError('NUMBER_KEY must hold at least 32 bytes (64 hex digits or 44 base64 characters)');
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `exposure-gateway/${info}`, 32));
    this.hmacKey = derive('number-hmac');
    this.sealKey = derive('number-seal');
    this.pairwiseKey = derive('pairwise-subject');
  }

  /**
   * The vault of a deployment. `NUMBER_KEY` (hex or base64) is required in production. Elsewhere,
   * without one, a random key is created once and kept in Redis, so every process of the
   * deployment shares it (which protects nothing against someone who can read that Redis).
   */
  static async load(configured: string | undefined, production: boolean, redis: RedisClient, key: KeyBuilder, logger: Logger): Promise<NumberVault> {
    if (configured) return new NumberVault(decodeSecret(configured));
    if (production) throw new ConfigError('NUMBER_KEY must be set when NODE_ENV=production (32 random bytes, hex or base64)');
    const name = key('number-key');
    await redis.set(name, randomBytes(32).toString('base64'), 'NX');
    const stored = await redis.get(name);
    logger.warn('NUMBER_KEY is not set: phone numbers are protected by a development key kept in Redis');
    return new NumberVault(Buffer.from(stored!, 'base64'));
  }

  /** Keyed HMAC of an E.164 number, base64url (43 characters). */
  hmac(msisdn: string): string {
    return createHmac('sha256', this.hmacKey).update(msisdn).digest('base64url');
  }

  /** Encrypts a value (a phone number, a device identifier); `open` gives it back. */
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The value `seal` encrypted; throws when it was altered or sealed with another key. */
  open(sealed: string): string {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 28) throw new Error('sealed value too short');
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  /** A pairwise pseudonymous subject (OIDC Core §8.1) of a subscriber for one client: stable, unlinkable across clients. */
  pseudonym(sector: string, msisdn: string): string {
    return createHmac('sha256', this.pairwiseKey).update(`${sector}\n${msisdn}`).digest('base64url');
  }
}

function decodeSecret(value: string): Buffer {
  const v = value.trim();
  if (/^[0-9a-fA-F]+$/.test(v) && v.length % 2 === 0) return Buffer.from(v, 'hex');
  return Buffer.from(v, 'base64');
}

/** The E.164 number as a user may see it on the consent screen: `+8613900000005` → `139****0005`. */
export function maskNumber(msisdn: string): string {
  const digits = msisdn.replace(/^\+/, '');
  // China (+86) and other long plans: show the national number's first three and last four digits.
  const national = digits.startsWith('86') ? digits.slice(2) : digits.slice(Math.max(0, digits.length - 11));
  if (national.length <= 7) return `${'*'.repeat(Math.max(0, national.length - 4))}${national.slice(-4)}`;
  return `${national.slice(0, 3)}${'*'.repeat(national.length - 7)}${national.slice(-4)}`;
}
