/**
 * The PCF's southbound peer: the bearer controller's HTTP/1.1 JSON API (Subscriber API for session
 * binding, Bearer API standing in for Npcf_SMPolicyControl towards the SMF and the RAN behind it).
 */
import http from 'node:http';
import type { Arp, BearerRequest } from '../bearer-controller/types.ts';
import { isObject } from '../common/validate.ts';
import { requestJson, type JsonResponse } from './http1.ts';

/** The bearer controller's wire types, as its own code defines them. */
export type { Arp, BearerRequest };

/** `GET /subscribers?ipv4=` */
export interface Subscriber {
  msisdn: string;
  imsi: string;
  ipv4?: string;
  plan: string;
  qosEligible: boolean;
  attached: boolean;
  cellId?: string;
  rrcState?: string;
}

/** What the bearer controller POSTs to `notifyUrl`. */
export interface BearerEvent {
  bearerId: string;
  event: 'ESTABLISHED' | 'FAILED' | 'RELEASED';
  cause?: string;
  at?: string;
}

export type BearerCreation = { accepted: true; bearerId: string } | { accepted: false; reason: string };

/** A bearer controller answer this client did not expect. */
export class BearerControllerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BearerControllerError';
  }
}

/** What the PCF asks of the bearer controller: over HTTP ({@link BearerClient}) or in-process (local-bearers.ts). */
export interface BearerApi {
  /** The subscriber holding `ipv4`, or undefined when the bearer controller knows none. */
  subscriberByIpv4(ipv4: string): Promise<Subscriber | undefined>;
  /** Accepted: the outcome comes later to the request's `notifyUrl`; refused: why. */
  createBearer(request: BearerRequest): Promise<BearerCreation>;
  /** Releases a bearer; one that is already gone counts as released. */
  deleteBearer(bearerId: string): Promise<void>;
  close(): void;
}

export class BearerClient implements BearerApi {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  constructor(private readonly baseUrl: string) {}

  /** The subscriber holding `ipv4`, or undefined when the bearer controller knows none (404). */
  async subscriberByIpv4(ipv4: string): Promise<Subscriber | undefined> {
    const res = await this.call('GET', `/subscribers?ipv4=${encodeURIComponent(ipv4)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200 || !isObject(res.body)) throw unexpected('GET /subscribers', res);
    return res.body as unknown as Subscriber;
  }

  /** 202 → accepted (the outcome comes later at `notifyUrl`); 404 → the UE is unknown or detached. */
  async createBearer(request: BearerRequest): Promise<BearerCreation> {
    const res = await this.call('POST', '/bearers', request);
    if (res.status === 202 || res.status === 201) {
      const bearerId = isObject(res.body) ? res.body.bearerId : undefined;
      if (typeof bearerId !== 'string' || !bearerId) throw unexpected('POST /bearers', res);
      return { accepted: true, bearerId };
    }
    if (res.status === 404 || res.status === 409 || res.status === 422) return { accepted: false, reason: `HTTP ${res.status} ${JSON.stringify(res.body ?? '')}` };
    throw unexpected('POST /bearers', res);
  }

  /** Releases a bearer; one that is already gone (404) counts as released. */
  async deleteBearer(bearerId: string): Promise<void> {
    const res = await this.call('DELETE', `/bearers/${encodeURIComponent(bearerId)}`);
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw unexpected(`DELETE /bearers/${bearerId}`, res);
  }

  close(): void {
    this.agent.destroy();
  }

  private call(method: string, path: string, body?: unknown): Promise<JsonResponse> {
    return requestJson(method, this.baseUrl + path, body, { agent: this.agent, timeoutMs: 5000 });
  }
}

function unexpected(what: string, res: JsonResponse): BearerControllerError {
  return new BearerControllerError(`${what} answered ${res.status} ${JSON.stringify(res.body ?? '').slice(0, 200)}`);
}
