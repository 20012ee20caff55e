/**
 * The fallback when the 3GPP OpenAPI files are not available: hand-written checks of the attributes
 * this PCF relies on, with the same constraints as the TS 29.514 / TS 29.571 schemas (required
 * attributes, the ueIpv4|ueIpv6|ueMac oneOf, BitRate and Ipv4Addr patterns, map and array sizes).
 * Attributes it does not use are not checked.
 */
import { isObject } from '../common/validate.ts';
import type { SchemaIssue } from './schemas.ts';

export const BIT_RATE_PATTERN = /^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$/;
const IPV4_PATTERN = /^(([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$/;
const SUPP_FEAT_PATTERN = /^[A-Fa-f0-9]*$/;
const MEDIA_BIT_RATES = ['marBwUl', 'marBwDl', 'mirBwUl', 'mirBwDl', 'maxSuppBwUl', 'maxSuppBwDl', 'minDesBwUl', 'minDesBwDl', 'rrBw', 'rsBw'];

type Json = Record<string, unknown>;

class Issues {
  readonly list: SchemaIssue[] = [];
  missing(path: string, reason: string) {
    this.list.push({ path, missing: true, reason });
  }
  wrong(path: string, reason: string) {
    this.list.push({ path, missing: false, reason });
  }
  /** Checks `o[key]` when present (`nullable`: null also allowed). */
  optional(o: Json, key: string, path: string, ok: (v: unknown) => boolean, reason: string, nullable = false) {
    if (!(key in o) || (nullable && o[key] === null)) return;
    if (!ok(o[key])) this.wrong(`${path}/${key}`, reason);
  }
}

const isString = (v: unknown) => typeof v === 'string';
const isBitRate = (v: unknown) => typeof v === 'string' && BIT_RATE_PATTERN.test(v);

export function structuralIssues(name: 'AppSessionContext' | 'AppSessionContextUpdateDataPatch' | 'EventsSubscReqData', body: unknown): SchemaIssue[] {
  const issues = new Issues();
  if (!isObject(body)) {
    issues.wrong('/', 'must be a JSON object');
    return issues.list;
  }
  if (name === 'EventsSubscReqData') eventsSubscription(issues, body, '');
  else if (isObject(body.ascReqData)) (name === 'AppSessionContext' ? reqData : updateData)(issues, body.ascReqData, '/ascReqData');
  else if ('ascReqData' in body) issues.wrong('/ascReqData', 'must be an object');
  return issues.list;
}

function reqData(issues: Issues, d: Json, path: string) {
  if (!('notifUri' in d)) issues.missing(`${path}/notifUri`, 'notifUri is required');
  issues.optional(d, 'notifUri', path, isString, 'must be a string');
  if (!('suppFeat' in d)) issues.missing(`${path}/suppFeat`, 'suppFeat is required');
  issues.optional(d, 'suppFeat', path, (v) => isString(v) && SUPP_FEAT_PATTERN.test(v as string), 'must be a hexadecimal string');
  const addresses = ['ueIpv4', 'ueIpv6', 'ueMac'].filter((k) => k in d);
  if (addresses.length === 0) issues.missing(`${path}/ueIpv4`, 'one of ueIpv4, ueIpv6, ueMac is required');
  if (addresses.length > 1) issues.wrong(path, 'only one of ueIpv4, ueIpv6, ueMac may be present');
  issues.optional(d, 'ueIpv4', path, (v) => isString(v) && IPV4_PATTERN.test(v as string), 'must be a dotted-decimal IPv4 address');
  issues.optional(d, 'ueIpv6', path, isString, 'must be a string');
  issues.optional(d, 'dnn', path, isString, 'must be a string');
  issues.optional(d, 'resPrio', path, isString, 'must be a string');
  if ('medComponents' in d) mediaComponents(issues, d.medComponents, `${path}/medComponents`, false);
  if ('evSubsc' in d) {
    if (isObject(d.evSubsc)) eventsSubscription(issues, d.evSubsc, `${path}/evSubsc`);
    else issues.wrong(`${path}/evSubsc`, 'must be an object');
  }
}

function updateData(issues: Issues, d: Json, path: string) {
  issues.optional(d, 'resPrio', path, isString, 'must be a string');
  if ('medComponents' in d) mediaComponents(issues, d.medComponents, `${path}/medComponents`, true);
  if ('evSubsc' in d && d.evSubsc !== null) {
    if (isObject(d.evSubsc)) eventsSubscription(issues, d.evSubsc, `${path}/evSubsc`);
    else issues.wrong(`${path}/evSubsc`, 'must be an object or null');
  }
}

function mediaComponents(issues: Issues, map: unknown, path: string, removable: boolean) {
  if (!isObject(map) || Object.keys(map).length === 0) return issues.wrong(path, 'must be an object with at least one media component');
  for (const [key, mc] of Object.entries(map)) {
    const at = `${path}/${key}`;
    if (removable && mc === null) continue;
    if (!isObject(mc)) {
      issues.wrong(at, removable ? 'must be an object or null' : 'must be an object');
      continue;
    }
    if (!('medCompN' in mc)) issues.missing(`${at}/medCompN`, 'medCompN is required');
    issues.optional(mc, 'medCompN', at, Number.isInteger, 'must be an integer');
    issues.optional(mc, 'qosReference', at, isString, 'must be a string', removable);
    for (const k of MEDIA_BIT_RATES) issues.optional(mc, k, at, isBitRate, 'must be a BitRate such as "4 Mbps"', removable);
    for (const k of ['preemptCap', 'preemptVuln', 'resPrio', 'medType', 'fStatus']) issues.optional(mc, k, at, isString, 'must be a string', removable);
    if ('medSubComps' in mc) mediaSubComponents(issues, mc.medSubComps, `${at}/medSubComps`, removable);
  }
}

function mediaSubComponents(issues: Issues, map: unknown, path: string, removable: boolean) {
  if (!isObject(map) || Object.keys(map).length === 0) return issues.wrong(path, 'must be an object with at least one media subcomponent');
  for (const [key, sc] of Object.entries(map)) {
    const at = `${path}/${key}`;
    if (removable && sc === null) continue;
    if (!isObject(sc)) {
      issues.wrong(at, 'must be an object');
      continue;
    }
    if (!('fNum' in sc)) issues.missing(`${at}/fNum`, 'fNum is required');
    issues.optional(sc, 'fNum', at, Number.isInteger, 'must be an integer');
    const fDescsOk = (v: unknown) => Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every(isString);
    issues.optional(sc, 'fDescs', at, fDescsOk, 'must be an array of 1 or 2 strings', removable);
    for (const k of ['marBwUl', 'marBwDl']) issues.optional(sc, k, at, isBitRate, 'must be a BitRate such as "4 Mbps"', removable);
  }
}

function eventsSubscription(issues: Issues, s: Json, path: string) {
  if (!('events' in s)) issues.missing(`${path}/events`, 'events is required');
  const events = s.events;
  if ('events' in s && (!Array.isArray(events) || events.length === 0)) issues.wrong(`${path}/events`, 'must be a non-empty array');
  if (Array.isArray(events)) {
    events.forEach((e, i) => {
      if (!isObject(e)) issues.wrong(`${path}/events/${i}`, 'must be an object');
      else if (!('event' in e)) issues.missing(`${path}/events/${i}/event`, 'event is required');
      else if (!isString(e.event)) issues.wrong(`${path}/events/${i}/event`, 'must be a string');
    });
  }
  issues.optional(s, 'notifUri', path, isString, 'must be a string');
}
