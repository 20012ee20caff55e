import { connect, constants, type ClientHttp2Session } from 'node:http2';
import '../../src/infra/async-resource-bind.ts';
import { DependencyUnavailableError } from '../ports.ts';

/** A response read whole. */
export interface H2Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** The PCF could not be reached, or did not answer in time. */
export class H2TransportError extends DependencyUnavailableError {}

/**
 * HTTP/2 over cleartext with prior knowledge (TS 29.500 §5.2: the SBI without TLS inside the
 * PLMN), one multiplexed connection per origin, re-opened after an error or a GOAWAY.
 */
export class H2cClient {
  private session?: ClientHttp2Session;

  constructor(
    readonly origin: string,
    private readonly timeoutMs = 5000,
  ) {}

  private connection(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(this.origin);
    session.on('error', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return session;
  }

  /** Sends a request; rejects with H2TransportError when the peer cannot be reached or does not answer in time. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<H2Response> {
    return await new Promise<H2Response>((resolve, reject) => {
      let session: ClientHttp2Session;
      try {
        session = this.connection();
      } catch (err) {
        return reject(new H2TransportError(`cannot connect to ${this.origin}`, { cause: err }));
      }
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = {
        [constants.HTTP2_HEADER_METHOD]: method,
        [constants.HTTP2_HEADER_PATH]: path,
        accept: 'application/json, application/problem+json',
      };
      if (payload) {
        headers['content-type'] = contentType;
        headers['content-length'] = payload.length;
      }
      const stream = session.request(headers);
      const chunks: Buffer[] = [];
      let status = 0;
      let responseHeaders: H2Response['headers'] = {};
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new H2TransportError(`${method} ${this.origin}${path} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      stream.on('response', (h) => {
        status = Number(h[constants.HTTP2_HEADER_STATUS]);
        responseHeaders = h as H2Response['headers'];
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(new H2TransportError(`${method} ${this.origin}${path} failed: ${err.message}`, { cause: err }));
      });
      stream.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        resolve({ status, headers: responseHeaders, body: parsed, text });
      });
      stream.end(payload);
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
