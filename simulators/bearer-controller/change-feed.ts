/**
 * The subscriber change feed, `GET /subscribers/changes`: one NDJSON line per change to a UE, for
 * readers that keep copies of what the Subscriber API answered (the gateway's identity cache) and
 * must drop them when they go stale. A line is written before the request that caused the change
 * is answered, so whoever made the change and then asks a reader finds the reader told already.
 */
import type { ServerResponse } from 'node:http';
import type { Route } from '../common/http.ts';
import type { BearerControllerModel } from './model.ts';
import type { SubscriberChange } from './types.ts';

/** How often an idle feed says it is alive. @defaultValue 15 s */
export const HEARTBEAT_MS = 15_000;

export class ChangeFeed {
  private readonly readers = new Set<ServerResponse>();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    model: BearerControllerModel,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {
    model.onSubscriberChange((change) => this.broadcast(change));
  }

  /** The feed's route: `GET /subscribers/changes`. */
  route(): Route {
    return {
      method: 'GET',
      path: /^\/subscribers\/changes$/,
      stream: (_context, res) => this.open(res),
    };
  }

  /** Ends every open feed (the simulator is stopping): readers see the end and stop trusting their copies. */
  close(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const res of this.readers) res.end();
    this.readers.clear();
  }

  private open(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    this.readers.add(res);
    res.on('close', () => this.readers.delete(res));
    this.write(res, { type: 'subscribed', at: new Date().toISOString() });
    this.heartbeat ??= setInterval(() => this.broadcast({ type: 'heartbeat', at: new Date().toISOString() }), this.heartbeatMs).unref();
  }

  private broadcast(change: SubscriberChange): void {
    for (const res of this.readers) this.write(res, change);
  }

  private write(res: ServerResponse, change: SubscriberChange): void {
    res.write(`${JSON.stringify(change)}\n`);
    // Node holds a response's writes until the end of the tick, while the answer to the request
    // that caused the change goes out at once: send the line now, so it leaves first.
    if (res.socket?.writableCorked) res.socket.uncork();
  }
}
