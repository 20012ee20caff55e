import http from 'node:http';

/** What a device received. */
export interface DeviceResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, when it is. */
  body: any;
}

export interface DeviceOptions {
  /**
   * The address the device has on the mobile data path (a UE address of the simulated network,
   * `10.45.x.y`), or a Wi-Fi / other address. The carrier's data-path proxy forwards it in
   * X-Forwarded-For; undefined sends no header (the socket address is the device's).
   */
  dataPathAddress?: string;
  /** Its source port behind carrier-grade NAT, sent as RFC 7239 `Forwarded: for="ip:port"`. */
  dataPathPort?: number;
  /** Local address the request leaves from (127.0.0.x): who the gateway sees as the TCP peer. @defaultValue 127.0.0.1 */
  localAddress?: string;
  /** Extra headers sent with every request (a spoofed X-Forwarded-For, ...). */
  headers?: Record<string, string>;
}

/**
 * A phone app's view of the gateway, over a real socket: requests reach the gateway through the
 * carrier's data-path proxy (loopback, trusted in tests), which names the device's address in a
 * forwarding header. Redirects are not followed, so a test sees each hop as the app would.
 */
export class DeviceEmulator {
  constructor(
    private readonly baseUrl: string,
    private readonly options: DeviceOptions = {},
  ) {}

  /** The same device on another network (Wi-Fi), behind another proxy, or with other headers. */
  with(options: DeviceOptions): DeviceEmulator {
    return new DeviceEmulator(this.baseUrl, { ...this.options, ...options });
  }

  request(method: string, pathOrUrl: string, body?: unknown, headers: Record<string, string> = {}): Promise<DeviceResponse> {
    const url = new URL(pathOrUrl, this.baseUrl);
    const o = this.options;
    const forwarding: Record<string, string> = {};
    if (o.dataPathAddress && o.dataPathPort) forwarding.forwarded = `for="${o.dataPathAddress.includes(':') ? `[${o.dataPathAddress}]` : o.dataPathAddress}:${o.dataPathPort}"`;
    else if (o.dataPathAddress) forwarding['x-forwarded-for'] = o.dataPathAddress;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          localAddress: o.localAddress ?? '127.0.0.1',
          agent: false,
          headers: {
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
            ...forwarding,
            ...o.headers,
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  get(path: string, headers?: Record<string, string>): Promise<DeviceResponse> {
    return this.request('GET', path, undefined, headers);
  }

  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<DeviceResponse> {
    return this.request('POST', path, body, headers);
  }
}
