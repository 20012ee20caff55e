/**
 * A reader of the Subscriber API's change feed (`GET /subscribers/changes`, NDJSON lines
 * `subscribed`, `changed`, `reset`, `heartbeat`): it tells its owner what changed and whether the
 * feed is open, reconnecting with backoff when it closes. Copies of the API's answers are good
 * only while the feed is open, so every way the feed can fail ends with `onState(false)`.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** A change the feed reported: one subscriber's number and address, or every subscriber. */
export type FeedChange = { msisdn: string; ipv4?: string } | 'all';

export interface ChangeFeedOptions {
  /** `http://host:port/<base>/subscribers/changes` */
  url: URL;
  onChange(change: FeedChange): void;
  /** true once the feed is open (after its `subscribed` line), false whenever it stops being. */
  onState(open: boolean, why?: string): void;
  /** First wait before reconnecting; doubles up to `maxRetryMs`. @defaultValue 500 ms */
  retryMs?: number;
  /** @defaultValue 30 s */
  maxRetryMs?: number;
  /** A feed silent this long is taken for dead (the simulator's heartbeat is every 15 s). @defaultValue 45 s */
  idleMs?: number;
}

/** Lines longer than this are not the feed's: the stream is dropped. */
const MAX_LINE = 16 * 1024;

export class ChangeFeedReader {
  private req?: ClientRequest;
  private retryTimer?: NodeJS.Timeout;
  private retryMs: number;
  private open = false;
  private closed = false;

  constructor(private readonly o: ChangeFeedOptions) {
    this.retryMs = o.retryMs ?? 500;
  }

  start(): void {
    if (this.closed || this.req) return;
    let buffered = '';
    const req = request(this.o.url, { method: 'GET', agent: false, headers: { accept: 'application/x-ndjson' } });
    this.req = req;
    req.setTimeout(this.o.idleMs ?? 45_000, () => req.destroy(new Error('the feed went silent')));
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy(new Error(`the feed answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      // 'data' runs as soon as the socket is read, before any request read in the same turn.
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) this.line(line, req);
        }
        if (buffered.length > MAX_LINE) req.destroy(new Error('the feed sent a line too long'));
      });
      res.on('end', () => req.destroy(new Error('the feed ended')));
    });
    req.on('error', (err) => this.lost(req, err.message));
    req.on('close', () => this.lost(req, 'the feed closed'));
    req.end();
  }

  /** Closes the feed for good. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.req?.destroy();
  }

  private line(text: string, req: ClientRequest): void {
    let change: { type?: unknown; msisdn?: unknown; ipv4?: unknown };
    try {
      change = JSON.parse(text);
    } catch {
      req.destroy(new Error('the feed sent a line that is not JSON'));
      return;
    }
    switch (change?.type) {
      case 'subscribed':
        this.retryMs = this.o.retryMs ?? 500;
        // Anything may have changed while the feed was closed.
        this.o.onChange('all');
        this.open = true;
        this.o.onState(true);
        return;
      case 'changed':
        if (typeof change.msisdn !== 'string') return void req.destroy(new Error('the feed sent a change without a number'));
        this.o.onChange({ msisdn: change.msisdn, ipv4: typeof change.ipv4 === 'string' ? change.ipv4 : undefined });
        return;
      case 'reset':
        this.o.onChange('all');
        return;
      case 'heartbeat':
        return;
      default:
        // A kind of line this reader does not know may change anything: forget everything.
        this.o.onChange('all');
    }
  }

  private lost(req: ClientRequest, why: string): void {
    if (this.req !== req) return;
    this.req = undefined;
    if (this.closed) return;
    if (this.open) {
      this.open = false;
      this.o.onState(false, why);
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.start(), this.retryMs).unref();
    this.retryMs = Math.min(this.retryMs * 2, this.o.maxRetryMs ?? 30_000);
  }
}
