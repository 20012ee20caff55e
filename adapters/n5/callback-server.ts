import { createServer, constants, type Http2Server, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { QosFlowEvent } from '../ports.ts';

type Handler = (event: QosFlowEvent) => Promise<void>;

interface EventsNotification {
  evSubsUri?: string;
  evNotifs?: Array<{ event?: string }>;
  qncReports?: Array<{ notifType?: string }>;
  failedResourcAllocReports?: unknown[];
}

/**
 * Maps a TS 29.514 EventsNotification to flow events: SUCCESSFUL/FAILED_RESOURCES_ALLOCATION,
 * and QOS_NOTIF with its QoS notification control reports (GUARANTEED / NOT_GUARANTEED).
 */
export function eventsOf(flowId: string, body: EventsNotification, at: string): QosFlowEvent[] {
  const networkRef = body.evSubsUri?.replace(/\/events-subscription$/, '');
  const events: QosFlowEvent[] = [];
  for (const n of body.evNotifs ?? []) {
    if (n.event === 'SUCCESSFUL_RESOURCES_ALLOCATION') events.push({ flowId, kind: 'ALLOCATED', networkRef, at });
    else if (n.event === 'FAILED_RESOURCES_ALLOCATION') events.push({ flowId, kind: 'ALLOCATION_FAILED', cause: 'FAILED_RESOURCES_ALLOCATION', networkRef, at });
    else if (n.event === 'QOS_NOTIF') {
      for (const r of body.qncReports ?? []) {
        events.push({ flowId, kind: r.notifType === 'NOT_GUARANTEED' ? 'QOS_NOT_GUARANTEED' : 'QOS_GUARANTEED', networkRef, at });
      }
    }
  }
  return events;
}

function problem(stream: ServerHttp2Stream, status: number, title: string, cause?: string): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': status, 'content-type': 'application/problem+json' });
  stream.end(JSON.stringify({ status, title, ...(cause ? { cause } : {}) }));
}

/**
 * The AF side of N5 notifications, over h2c: `POST {notifUri}/notify` (EventsNotification) and
 * `POST {notifUri}/terminate` (TerminationInfo), where notifUri is `/flows/{flowId}`. It answers
 * 204 only once the handler has durably accepted the event, and 503 otherwise, so the PCF retries.
 */
export class N5CallbackServer {
  private server?: Http2Server;

  constructor(private readonly handler: Handler) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer();
    server.on('stream', (stream, headers) => void this.serve(stream, headers));
    server.on('sessionError', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  private async serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    stream.on('error', () => {});
    const m = /^\/flows\/([^/]+)\/(notify|terminate)$/.exec(String(headers[constants.HTTP2_HEADER_PATH]).split('?')[0]);
    if (!m) return problem(stream, 404, 'no such callback');
    if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST') return problem(stream, 405, 'use POST');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (!body || typeof body !== 'object') throw new Error('not an object');
    } catch {
      return problem(stream, 400, 'body is not a JSON object', 'MANDATORY_IE_INCORRECT');
    }
    const flowId = decodeURIComponent(m[1]);
    const at = new Date().toISOString();
    const events =
      m[2] === 'terminate'
        ? [{ flowId, kind: 'TERMINATED' as const, cause: String(body.termCause ?? 'UNSPECIFIED'), networkRef: typeof body.resUri === 'string' ? body.resUri : undefined, at }]
        : eventsOf(flowId, body as EventsNotification, at);
    try {
      for (const e of events) await this.handler(e);
    } catch {
      return problem(stream, 503, 'cannot accept the notification now; retry');
    }
    if (!stream.destroyed) {
      stream.respond({ ':status': 204 });
      stream.end();
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
  }
}
