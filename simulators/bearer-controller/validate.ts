/** Checks the body of `POST /bearers`; anything malformed is a 400 INVALID_REQUEST. */
import { isHttpUrl, isObject } from '../common/validate.ts';
import { resourceTypeOf } from './admission.ts';
import { SimulatorError } from './problems.ts';
import type { Arp, BearerRequest } from './types.ts';

type Json = Record<string, unknown>;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function invalid(detail: string): never {
  throw new SimulatorError('INVALID_REQUEST', detail);
}

/** A bit rate in bit/s: a finite number ≥ 0. */
function bitRate(body: Json, key: string): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) invalid(`${key} must be a bit rate in bit/s (a number ≥ 0)`);
  return value;
}

function parseArp(value: unknown): Arp {
  if (!isObject(value)) invalid('arp must be an object {priorityLevel, preemptCap, preemptVuln}');
  const { priorityLevel, preemptCap, preemptVuln } = value;
  // TS 23.501 §5.7.2.2: ARP priority level 1..15.
  if (!Number.isInteger(priorityLevel) || (priorityLevel as number) < 1 || (priorityLevel as number) > 15) {
    invalid('arp.priorityLevel must be an integer from 1 to 15');
  }
  if (preemptCap !== 'MAY_PREEMPT' && preemptCap !== 'NOT_PREEMPT') invalid('arp.preemptCap must be MAY_PREEMPT or NOT_PREEMPT');
  if (preemptVuln !== 'PREEMPTABLE' && preemptVuln !== 'NOT_PREEMPTABLE') invalid('arp.preemptVuln must be PREEMPTABLE or NOT_PREEMPTABLE');
  return { priorityLevel: priorityLevel as number, preemptCap, preemptVuln };
}

function parseFlowDescriptions(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((f) => typeof f === 'string' && f.trim() !== '')) {
    invalid('flowDescriptions must be a non-empty array of IPFilterRule strings');
  }
  return value as string[];
}

function parseNotifyUrl(value: unknown): string {
  if (!isHttpUrl(value)) invalid('notifyUrl must be an absolute http:// URL');
  return value;
}

/** The bit rates; a GBR 5QI needs both GBRs, each ≤ its MBR (TS 23.501 §5.7.2.5: MFBR ≥ GFBR). */
function parseBitRates(body: Json, fiveQi: number): Pick<BearerRequest, 'gbrUl' | 'gbrDl' | 'mbrUl' | 'mbrDl'> {
  const [gbrUl, gbrDl, mbrUl, mbrDl] = ['gbrUl', 'gbrDl', 'mbrUl', 'mbrDl'].map((k) => bitRate(body, k));
  if (mbrUl === undefined || mbrDl === undefined) invalid('mbrUl and mbrDl are required');
  if (resourceTypeOf(fiveQi) !== 'NON_GBR') {
    if (gbrUl === undefined || gbrDl === undefined) invalid(`5QI ${fiveQi} is a GBR 5QI: gbrUl and gbrDl are required`);
    if (gbrUl > mbrUl || gbrDl > mbrDl) invalid('a guaranteed bit rate cannot exceed the maximum bit rate');
  }
  return { mbrUl, mbrDl, ...(gbrUl === undefined ? {} : { gbrUl }), ...(gbrDl === undefined ? {} : { gbrDl }) };
}

export function parseBearerRequest(body: unknown): BearerRequest {
  if (!isObject(body)) invalid('the body must be a JSON object');
  if (typeof body.ueIpv4 !== 'string' || !IPV4.test(body.ueIpv4)) invalid('ueIpv4 must be a dotted-quad IPv4 address');
  const fiveQi = body.fiveQi;
  // TS 23.501 §5.7.2.1: a 5QI is a scalar 0..255; 0 is reserved.
  if (typeof fiveQi !== 'number' || !Number.isInteger(fiveQi) || fiveQi < 1 || fiveQi > 255) invalid('fiveQi must be an integer from 1 to 255');
  return {
    ueIpv4: body.ueIpv4,
    fiveQi,
    ...parseBitRates(body, fiveQi),
    arp: parseArp(body.arp),
    flowDescriptions: parseFlowDescriptions(body.flowDescriptions),
    notifyUrl: parseNotifyUrl(body.notifyUrl),
  };
}
