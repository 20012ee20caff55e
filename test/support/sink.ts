import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A CloudEvent as a sink received it. */
export interface ReceivedEvent {
  headers: IncomingHttpHeaders;
  body: { id: string; type: string; source: string; specversion: string; time: string; data: Record<string, unknown> } & Record<string, unknown>;
}

/** A client's notification endpoint on loopback that records what it receives. */
export class TestSink {
  readonly events: ReceivedEvent[] = [];
  /** Decides the HTTP status of each delivery; 204 by default. */
  respond: (event: ReceivedEvent) => number = () => 204;
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: ReceivedEvent['body'];
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400).end();
          return;
        }
        const event = { headers: req.headers, body };
        const status = this.respond(event);
        if (status < 300) this.events.push(event);
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/events`;
    return this;
  }

  /** Events about one session (or bandwidth request), in arrival order. */
  forSession(sessionId: string): ReceivedEvent[] {
    return this.events.filter((e) => e.body.data?.sessionId === sessionId || e.body.data?.requestId === sessionId);
  }

  /** Waits until `count` events for a session have arrived. */
  async waitFor(sessionId: string, count: number, ms = 15_000): Promise<ReceivedEvent[]> {
    const end = Date.now() + ms;
    while (this.forSession(sessionId).length < count) {
      if (Date.now() > end) throw new Error(`sink got ${this.forSession(sessionId).length} of ${count} events for ${sessionId}: ${JSON.stringify(this.forSession(sessionId).map((e) => e.body.data))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.forSession(sessionId);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
