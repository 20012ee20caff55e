import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { PacedResult } from '../support/paced.ts';

/**
 * A client's notification endpoint on loopback that notes when each session's AVAILABLE event
 * arrived (`performance.now()`, the clock the load generator's send times use).
 */
export class TimingSink {
  readonly available = new Map<string, number>();
  /** The same arrivals in wall-clock time (epoch ms), to set beside the gateway's own timestamps. */
  readonly availableAt = new Map<string, number>();
  /** Events other than AVAILABLE, by `qosStatus/statusInfo`: a healthy run has none. */
  readonly others = new Map<string, number>();
  /** UNAVAILABLE/DELETE_REQUESTED events: the benchmark deleting sessions to reuse their (device, port) pairs. */
  deleted = 0;
  url = '';
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = performance.now();
        try {
          const data = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.data ?? {};
          if (data.qosStatus === 'AVAILABLE') {
            this.available.set(data.sessionId, at);
            this.availableAt.set(data.sessionId, Date.now());
          } else if (data.statusInfo === 'DELETE_REQUESTED') this.deleted++;
          else this.others.set(`${data.qosStatus}/${data.statusInfo}`, (this.others.get(`${data.qosStatus}/${data.statusInfo}`) ?? 0) + 1);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
    return this;
  }

  /** Sessions heard of so far: AVAILABLE, or ended by the network (deletions asked for are not counted). */
  get heard(): number {
    let n = this.available.size;
    for (const k of this.others.values()) n += k;
    return n;
  }

  /** The sessions of `sentAt` (id → `performance.now()` when its create went out) whose AVAILABLE event came. */
  arrivalsOf(sentAt: ReadonlyMap<string, number>): Arrival[] {
    const arrivals: Arrival[] = [];
    for (const [id, sent] of sentAt) {
      const at = this.available.get(id);
      if (at !== undefined) arrivals.push({ id, ms: at - sent, at: this.availableAt.get(id)! });
    }
    return arrivals;
  }

  /** Waits until every one of `ids` has been reported AVAILABLE, or the time is up; returns how many are missing. */
  async waitFor(ids: Iterable<string>, timeoutMs: number): Promise<number> {
    const wanted = [...ids];
    const end = Date.now() + timeoutMs;
    for (;;) {
      const missing = wanted.filter((id) => !this.available.has(id)).length;
      if (missing === 0 || Date.now() > end) return missing;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** The activation probe's bodies name this as their sink; the probe puts its own sink's URL in its place. */
export const SINK_PLACEHOLDER = 'SINK_URL';

/** A measured session: ms from its create going out to its AVAILABLE event, and the event's arrival (epoch ms). */
export interface Arrival {
  id: string;
  ms: number;
  at: number;
}

/** What one probe run saw. */
export interface ProbeResult {
  create: PacedResult;
  /** The measured sessions whose AVAILABLE event came. */
  arrivals: Arrival[];
  /** Measured sessions whose AVAILABLE event did not come in time. */
  missing: number;
  /** Events other than AVAILABLE, by `qosStatus/statusInfo`. */
  others: Record<string, number>;
}
