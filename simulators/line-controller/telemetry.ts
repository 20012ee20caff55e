/**
 * The performance feed of a line: one sample per interval, computed from the offered load against
 * the bandwidth in force. Samples are made lazily: whenever a line is read or about to change, the
 * intervals that ended since the last sample are filled in under the conditions that held during
 * them, so no timer runs and a change shows from the next interval on.
 */
import type { Prng } from '../common/prng.ts';
import type { LineSample, ServiceState } from './types.ts';

/** What a sample is computed from; constant between two changes of the line. */
export interface Conditions {
  state: ServiceState;
  bandwidthMbps: number;
  /** The load the enterprise offers, Mbps (before the random walk). */
  demandMbps: number;
  /** One-way propagation and equipment latency of the empty line, ms. */
  baseLatencyMs: number;
}

/**
 * Scale of the queueing delay: an M/M/1 queue waits `QUEUE_SCALE_MS × ρ/(1−ρ)` at utilisation ρ,
 * flat at low load and steep near 100% (about 1 ms at 50%, 9 ms at 90%, 99 ms at 99%).
 */
const QUEUE_SCALE_MS = 1;
/** The delay of a full buffer: what a line offered more than its bandwidth settles at. */
const FULL_BUFFER_MS = 150;
/** Below this utilisation bursts fit the buffers and nothing is lost. */
const LOSS_KNEE = 0.9;
/** Tail drops from bursts at an average utilisation of 100%, percent. */
const BURST_LOSS_PERCENT = 0.5;
/** The offered load wanders at most this share away from the demand. */
const WALK_LIMIT = 0.1;
/** Per-sample latency noise, ± this share. */
const LATENCY_JITTER = 0.02;

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/** One sample's figures for an interval in which `offeredMbps` was offered under `c`. */
export function sampleOf(c: Conditions, offeredMbps: number, jitter = 0): Omit<LineSample, 'at'> {
  const bandwidth = c.bandwidthMbps;
  // A cut line carries nothing: every packet is lost, and no latency can be measured.
  if (c.state !== 'active' || bandwidth <= 0) return { bandwidthMbps: bandwidth, utilisationPercent: 0, throughputMbps: 0, latencyMs: 0, lossPercent: 100 };
  const throughput = Math.min(offeredMbps, bandwidth);
  const rho = throughput / bandwidth;
  const overloaded = offeredMbps >= bandwidth;
  const queueMs = overloaded ? FULL_BUFFER_MS : Math.min(FULL_BUFFER_MS, (QUEUE_SCALE_MS * rho) / (1 - rho));
  const burstLoss = rho <= LOSS_KNEE ? 0 : BURST_LOSS_PERCENT * ((rho - LOSS_KNEE) / (1 - LOSS_KNEE)) ** 2;
  // What exceeds the bandwidth is dropped at the ingress shaper.
  const overflow = offeredMbps > bandwidth ? (offeredMbps - bandwidth) / offeredMbps : 0;
  const loss = Math.min(100, overflow * 100 + burstLoss * (1 - overflow));
  return {
    bandwidthMbps: bandwidth,
    utilisationPercent: round(rho * 100, 1),
    throughputMbps: round(throughput, 1),
    latencyMs: round((c.baseLatencyMs + queueMs) * (1 + jitter), 2),
    lossPercent: round(loss, 3),
  };
}

interface Stored {
  atMs: number;
  sample: LineSample;
}

/** The samples of one line, newest last, at most `max`. */
export class SampleSeries {
  private readonly samples: Stored[] = [];
  /** End of the last sampled interval. */
  private lastAt: number;
  /** The random walk of the offered load, as a share of the demand. */
  private walk = 0;

  constructor(
    private readonly prng: Prng,
    private readonly intervalMs: number,
    private readonly max: number,
    startAt: number,
  ) {
    this.lastAt = startAt;
  }

  /** Samples every interval that ended by `now`; `conditions` must have held since the last sample. */
  catchUp(now: number, conditions: Conditions): void {
    const due = Math.floor((now - this.lastAt) / this.intervalMs);
    if (due <= 0) return;
    // Only the newest `max` are kept: skip the intervals that would be dropped at once.
    const skipped = Math.max(0, due - this.max);
    this.lastAt += skipped * this.intervalMs;
    for (let i = skipped; i < due; i++) {
      this.lastAt += this.intervalMs;
      this.samples.push({ atMs: this.lastAt, sample: { at: new Date(this.lastAt).toISOString(), ...this.next(conditions) } });
    }
    if (this.samples.length > this.max) this.samples.splice(0, this.samples.length - this.max);
  }

  /** The newest `limit` samples, oldest first; only those after `sinceMs` when given. */
  read(sinceMs: number | undefined, limit: number): LineSample[] {
    const after = sinceMs === undefined ? this.samples : this.samples.filter((s) => s.atMs > sinceMs);
    return after.slice(-limit).map((s) => ({ ...s.sample }));
  }

  private next(c: Conditions): Omit<LineSample, 'at'> {
    // A mean-reverting (AR(1)) walk: the load drifts from interval to interval, but around the demand.
    this.walk = Math.max(-WALK_LIMIT, Math.min(WALK_LIMIT, this.walk * 0.8 + (this.prng() - 0.5) * 0.08));
    const jitter = (this.prng() - 0.5) * 2 * LATENCY_JITTER;
    return sampleOf(c, c.demandMbps * (1 + this.walk), jitter);
  }
}
