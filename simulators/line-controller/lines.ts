/**
 * A dedicated line: its inventory record (what TMF638 shows), the load on it and its performance
 * feed. Every change first brings the feed up to now, so past samples keep the old conditions.
 */
import type { Prng } from '../common/prng.ts';
import { SampleSeries, type Conditions } from './telemetry.ts';
import { INVENTORY_API, type LineSample, type LineSpec, type RelatedParty, type Service, type ServiceState, type SiteValue } from './types.ts';

/** Share of the committed bandwidth a line is offered when its spec names no demand. */
export const DEFAULT_DEMAND_SHARE = 0.7;
export const DEFAULT_LATENCY_MS = 8;
/** Samples a new line already has, as if it had been running before the simulator started. */
const HISTORY_SAMPLES = 60;

export type InjectedOutcome = 'failed' | 'rejected';

export interface SeriesOptions {
  prng: Prng;
  intervalMs: number;
  maxSamples: number;
}

export class Line {
  readonly id: string;
  readonly name: string;
  readonly aEnd: SiteValue;
  readonly zEnd: SiteValue;
  readonly committedMbps: number;
  readonly portCapacityMbps: number;
  readonly baseLatencyMs: number;
  readonly customer?: { id: string; name: string };
  readonly startDate: string;
  state: ServiceState = 'active';
  bandwidthMbps: number;
  demandMbps: number;
  /** The next `count` feasible orders end in `state` (Control API). */
  readonly injected: { count: number; state: InjectedOutcome } = { count: 0, state: 'failed' };
  private readonly series: SampleSeries;

  constructor(id: string, spec: LineSpec, series: SeriesOptions, now = Date.now()) {
    this.id = id;
    this.name = spec.name;
    this.aEnd = { ...spec.aEnd };
    this.zEnd = { ...spec.zEnd };
    this.committedMbps = spec.committedMbps;
    this.portCapacityMbps = spec.portCapacityMbps;
    this.baseLatencyMs = spec.latencyMs ?? DEFAULT_LATENCY_MS;
    this.customer = spec.customer && { ...spec.customer };
    this.startDate = new Date(now).toISOString();
    this.bandwidthMbps = spec.committedMbps;
    this.demandMbps = spec.demandMbps ?? Math.round(spec.committedMbps * DEFAULT_DEMAND_SHARE);
    this.series = new SampleSeries(series.prng, series.intervalMs, series.maxSamples, now - HISTORY_SAMPLES * series.intervalMs);
  }

  conditions(): Conditions {
    return { state: this.state, bandwidthMbps: this.bandwidthMbps, demandMbps: this.demandMbps, baseLatencyMs: this.baseLatencyMs };
  }

  /** Samples the intervals that ended under the current conditions; call before changing them. */
  settle(now = Date.now()): void {
    this.series.catchUp(now, this.conditions());
  }

  setBandwidth(mbps: number): void {
    this.settle();
    this.bandwidthMbps = mbps;
  }

  setState(state: ServiceState): void {
    this.settle();
    this.state = state;
  }

  setDemand(mbps: number): void {
    this.settle();
    this.demandMbps = mbps;
  }

  samples(sinceMs: number | undefined, limit: number): LineSample[] {
    this.settle();
    return this.series.read(sinceMs, limit);
  }

  /** The outcome the Control API set for the next feasible order, consuming it. */
  takeInjectedOutcome(): InjectedOutcome | undefined {
    if (this.injected.count === 0) return undefined;
    this.injected.count--;
    return this.injected.state;
  }
}

const site = (value: SiteValue) => ({ siteName: value.siteName, address: value.address });

/** The line as a TMF638 Service; `baseUrl` makes the hrefs absolute. */
export function serviceOf(line: Line, baseUrl: string): Service {
  const relatedParty: RelatedParty[] = line.customer ? [{ ...line.customer, role: 'customer', '@referredType': 'Organization' }] : [];
  return {
    id: line.id,
    href: `${baseUrl}${INVENTORY_API}/service/${encodeURIComponent(line.id)}`,
    name: line.name,
    description: `Enterprise dedicated line ${line.aEnd.siteName} ↔ ${line.zEnd.siteName}, bandwidth on demand`,
    category: 'CFS',
    serviceType: 'enterpriseDedicatedLine',
    state: line.state,
    startDate: line.startDate,
    hasStarted: true,
    isServiceEnabled: true,
    // A reference only: the service catalogue (TMF633) is not simulated.
    serviceSpecification: {
      id: 'EDL-BOD',
      href: `${baseUrl}/tmf-api/serviceCatalogManagement/v4/serviceSpecification/EDL-BOD`,
      name: 'Enterprise dedicated line with bandwidth on demand',
      version: '1.0',
      '@referredType': 'ServiceSpecification',
    },
    serviceCharacteristic: [
      { name: 'bandwidth', valueType: 'integer', value: line.bandwidthMbps },
      { name: 'committedBandwidth', valueType: 'integer', value: line.committedMbps },
      { name: 'portCapacity', valueType: 'integer', value: line.portCapacityMbps },
      { name: 'aEnd', valueType: 'object', value: site(line.aEnd) },
      { name: 'zEnd', valueType: 'object', value: site(line.zEnd) },
    ],
    relatedParty,
    '@type': 'Service',
  };
}
