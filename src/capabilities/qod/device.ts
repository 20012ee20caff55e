import { createHash } from 'node:crypto';
import { ApiError } from '../../http/errors.ts';
import type { Principal } from '../../auth/access.ts';
import type { RedisClient, KeyBuilder } from '../../infra/redis.ts';
import type { Subscriber, SubscriberIdentity } from '../../../adapters/ports.ts';
import { DEVICE_REF_CLAIM, loadDeviceRef } from '../../identity/device-ref.ts';
import type { NumberVault } from '../../identity/number-vault.ts';

/** CAMARA Commonalities Device: at least one identifier. */
export interface Device {
  phoneNumber?: string;
  networkAccessIdentifier?: string;
  ipv4Address?: { publicAddress: string; privateAddress?: string; publicPort?: number };
  ipv6Address?: string;
}

/** The device a request is about, the one identifier used (echoed as DeviceResponse), and the subscriber. */
export interface ResolvedDevice {
  /** The identifier used, as the client gave it; absent when the token identified the device. */
  echo?: Device;
  subscriber: Subscriber;
  /** A stable key for the UE (hashed: no phone number in Redis keys). */
  ueKey: string;
}


export function ueKeyOf(subscriber: Subscriber): string {
  return createHash('sha256').update(subscriber.msisdn).digest('base64url').slice(0, 22);
}

/** Picks the one identifier the provider uses (CAMARA: no matching across identifiers, no mismatch error). */
function chooseIdentifier(device: Device): Device {
  if (device.phoneNumber) return { phoneNumber: device.phoneNumber };
  if (device.ipv4Address) return { ipv4Address: device.ipv4Address };
  if (device.ipv6Address) return { ipv6Address: device.ipv6Address };
  // CAMARA defines networkAccessIdentifier "for future use"; no operator supports it yet.
  throw new ApiError('UNSUPPORTED_IDENTIFIER', 'networkAccessIdentifier is not supported; identify the device by phoneNumber, ipv4Address or ipv6Address');
}

async function lookup(identity: SubscriberIdentity, id: Device): Promise<Subscriber | undefined> {
  if (id.phoneNumber) return identity.byMsisdn(id.phoneNumber);
  if (id.ipv4Address) return identity.byIpv4(id.ipv4Address.publicAddress, id.ipv4Address.publicPort);
  return identity.byIpv6(id.ipv6Address!);
}

/**
 * Applies the CAMARA device rules (Commonalities §"Device identification"): a token that does not
 * identify a device needs `device` (422 MISSING_IDENTIFIER); a token that does forbids it (422
 * UNNECESSARY_IDENTIFIER); unknown devices are 404 IDENTIFIER_NOT_FOUND; subscribers whose plan
 * has no QoS are 422 SERVICE_NOT_APPLICABLE.
 */
export async function resolveDevice(
  body: Device | undefined,
  principal: Principal,
  deps: { identity: SubscriberIdentity; redis: RedisClient; key: KeyBuilder; vault: NumberVault },
  options: { requireQos: boolean } = { requireQos: true },
): Promise<ResolvedDevice> {
  const ref = principal.claims[DEVICE_REF_CLAIM];
  let identifier: Device;
  let echo: Device | undefined;
  if (typeof ref === 'string') {
    if (body) throw new ApiError('UNNECESSARY_IDENTIFIER', 'the device is already identified by the access token');
    const bound = await loadDeviceRef(deps, ref);
    if (!bound) throw new ApiError('IDENTIFIER_NOT_FOUND', 'the device of this access token is no longer known');
    identifier = { phoneNumber: bound.phoneNumber };
  } else {
    if (!body) throw new ApiError('MISSING_IDENTIFIER', 'the device cannot be identified: give device');
    identifier = chooseIdentifier(body);
    echo = identifier;
  }
  const subscriber = await lookup(deps.identity, identifier);
  if (!subscriber) throw new ApiError('IDENTIFIER_NOT_FOUND', 'device identifier not found');
  if (options.requireQos && !subscriber.qosEligible) {
    throw new ApiError('SERVICE_NOT_APPLICABLE', 'the subscription of this device does not include quality on demand');
  }
  return { echo, subscriber, ueKey: ueKeyOf(subscriber) };
}
