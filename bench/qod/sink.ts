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
          }
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

/** The activation probe's bodies name their sink with this JSON string, which the probe replaces by its own sink's URL. */
export const SINK_PLACEHOLDER = '"SINK_URL"';

/** What one probe run saw. */
export interface ProbeResult {
  create: PacedResult;
  /** Sessions answered 201, warm-up included. */
  created: number;
  /** Measured sessions: id, ms from send to the AVAILABLE event, and the event's arrival (epoch ms). */
  arrivals: Array<{ id: string; ms: number; at: number }>;
  /** Measured sessions whose AVAILABLE event did not come in time. */
  missing: number;
  /** Events other than AVAILABLE, by `qosStatus/statusInfo`. */
  others: Record<string, number>;
}

