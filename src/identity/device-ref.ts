import { randomBytes } from 'node:crypto';
import type { KeyBuilder, RedisClient } from '../infra/redis.ts';
import type { NumberVault } from './number-vault.ts';

/** Access tokens bound to a device carry an opaque reference (`dev`), never the number itself. */
export const DEVICE_REF_CLAIM = 'dev';

/** How a device-bound token names its device: the subscriber's number, found by the network. */
export interface BoundDevice {
  phoneNumber: string;
}

/**
 * Stores the device of a device-bound (3-legged) access token for as long as the token lives and
 * returns the reference the token carries. The number is encrypted at rest.
 */
export async function storeDeviceRef(deps: { redis: RedisClient; key: KeyBuilder; vault: NumberVault }, device: BoundDevice, ttlSeconds: number): Promise<string> {
  const ref = randomBytes(18).toString('base64url');
  await deps.redis.set(deps.key('devref', ref), deps.vault.seal(JSON.stringify(device)), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  return ref;
}

/** The device behind a reference; undefined once the token it belonged to has expired. */
export async function loadDeviceRef(deps: { redis: RedisClient; key: KeyBuilder; vault: NumberVault }, ref: string): Promise<BoundDevice | undefined> {
  const stored = await deps.redis.get(deps.key('devref', ref));
  if (!stored) return undefined;
  try {
    return JSON.parse(deps.vault.open(stored)) as BoundDevice;
  } catch {
    return undefined;
  }
}
