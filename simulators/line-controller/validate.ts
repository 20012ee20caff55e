/**
 * Checks request bodies: `POST /serviceOrder` (TMF641 ServiceOrder_Create, reduced to what this OSS
 * carries out: one `modify` item setting a line's `bandwidth`) and `POST /control/lines`.
 */
import { isObject } from '../common/validate.ts';
import { SimulatorError, type ErrorCode } from './problems.ts';
import type { LineSpec, Note, OrderRequest, SiteValue } from './types.ts';

type Json = Record<string, unknown>;

/** TMF641 v4 ServiceOrderItem actions; this OSS carries out `modify` only. */
const TMF_ACTIONS = new Set(['add', 'modify', 'delete', 'noChange']);
/** RFC 3339 §5.6 date-time. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const LINE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_TEXT = 256;

function fail(detail: string, code: ErrorCode = 'INVALID_REQUEST'): never {
  throw new SimulatorError(code, detail);
}

function optionalText(body: Json, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > MAX_TEXT) fail(`${key} must be a string of 1 to ${MAX_TEXT} characters`);
  return value;
}

function optionalDateTime(body: Json, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) fail(`${key} must be an RFC 3339 date-time`);
  return value;
}

function notesOf(value: unknown): Note[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((n) => isObject(n) && typeof n.text === 'string')) fail('note must be an array of {text, author?, date?}');
  const now = new Date().toISOString();
  return (value as Json[]).map((n) => ({
    date: typeof n.date === 'string' ? n.date : now,
    author: typeof n.author === 'string' ? n.author : 'customer',
    text: n.text as string,
    '@type': 'Note',
  }));
}

/** The bandwidth characteristic, in Mbps: the only one that can be ordered, a positive integer. */
function bandwidthOf(service: Json, at: string): number {
  const characteristics = service.serviceCharacteristic;
  if (!Array.isArray(characteristics) || characteristics.length === 0) fail(`${at}.serviceCharacteristic must name the new bandwidth`);
  const other = characteristics.find((c) => !isObject(c) || c.name !== 'bandwidth');
  if (other !== undefined) {
    const name = isObject(other) ? JSON.stringify(other.name) : 'an entry that is not a characteristic';
    fail(`${name} cannot be ordered: only the bandwidth characteristic of a line can`, 'UNSUPPORTED_CHARACTERISTIC');
  }
  if (characteristics.length > 1) fail(`${at}.serviceCharacteristic names bandwidth more than once`);
  const { value, valueType } = characteristics[0] as Json;
  if (valueType !== undefined && valueType !== 'integer') fail('bandwidth has valueType integer (Mbps)', 'INVALID_BANDWIDTH');
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail('bandwidth must be a positive integer number of Mbps', 'INVALID_BANDWIDTH');
  return value;
}

export function parseServiceOrder(body: unknown): OrderRequest {
  if (!isObject(body)) fail('the body must be a ServiceOrder_Create object');
  const items = body.serviceOrderItem;
  if (!Array.isArray(items) || items.length === 0) fail('serviceOrderItem is required: one item modifying a line');
  // A simplification: a real OSS takes several items (and can end `partial`); this one takes one.
  if (items.length > 1) fail('this OSS takes one serviceOrderItem per order');
  const item = items[0];
  if (!isObject(item)) fail('serviceOrderItem[0] must be an object');
  if (item.action !== 'modify') {
    const known = TMF_ACTIONS.has(item.action as string);
    fail(known ? `action ${String(item.action)} is not supported: lines can only be modified` : 'serviceOrderItem[0].action must be modify', 'UNSUPPORTED_ACTION');
  }
  if (item.id !== undefined && (typeof item.id !== 'string' || item.id === '')) fail('serviceOrderItem[0].id must be a non-empty string');
  const service = item.service;
  if (!isObject(service) || typeof service.id !== 'string' || service.id === '') fail('serviceOrderItem[0].service.id is required: the line to modify');
  return {
    externalId: optionalText(body, 'externalId'),
    description: optionalText(body, 'description'),
    category: optionalText(body, 'category'),
    priority: optionalText(body, 'priority'),
    requestedStartDate: optionalDateTime(body, 'requestedStartDate'),
    requestedCompletionDate: optionalDateTime(body, 'requestedCompletionDate'),
    note: notesOf(body.note),
    itemId: (item.id as string | undefined) ?? '1',
    serviceId: service.id,
    bandwidthMbps: bandwidthOf(service, 'serviceOrderItem[0].service'),
  };
}

function siteOf(value: unknown, key: string): SiteValue {
  if (!isObject(value) || typeof value.siteName !== 'string' || value.siteName === '' || typeof value.address !== 'string') {
    fail(`${key} must be {siteName, address}`);
  }
  return { siteName: value.siteName, address: value.address as string };
}

function positiveInteger(body: Json, key: string): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail(`${key} must be a positive integer (Mbps)`);
  return value;
}

/** A number ≥ 0, or undefined when absent. */
export function optionalAmount(body: Json, key: string): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${key} must be a number ≥ 0`);
  return value;
}

export function parseLineSpec(body: unknown): LineSpec {
  if (!isObject(body)) fail('the body must be {name, aEnd, zEnd, committedMbps, portCapacityMbps, id?, demandMbps?, latencyMs?}');
  if (body.id !== undefined && (typeof body.id !== 'string' || !LINE_ID.test(body.id))) fail('id must be 1 to 64 letters, digits, ".", "_" or "-"');
  if (typeof body.name !== 'string' || body.name === '' || body.name.length > MAX_TEXT) fail(`name must be a string of 1 to ${MAX_TEXT} characters`);
  const committedMbps = positiveInteger(body, 'committedMbps');
  const portCapacityMbps = positiveInteger(body, 'portCapacityMbps');
  if (portCapacityMbps < committedMbps) fail('portCapacityMbps cannot be below committedMbps');
  const customer = body.customer;
  if (customer !== undefined && (!isObject(customer) || typeof customer.id !== 'string' || typeof customer.name !== 'string')) fail('customer must be {id, name}');
  return {
    ...(body.id === undefined ? {} : { id: body.id as string }),
    name: body.name,
    aEnd: siteOf(body.aEnd, 'aEnd'),
    zEnd: siteOf(body.zEnd, 'zEnd'),
    committedMbps,
    portCapacityMbps,
    demandMbps: optionalAmount(body, 'demandMbps'),
    latencyMs: optionalAmount(body, 'latencyMs'),
    ...(customer === undefined ? {} : { customer: { id: customer.id as string, name: customer.name as string } }),
  };
}
