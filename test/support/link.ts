import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

interface Connection {
  client: Socket;
  upstream: Socket;
  /** Opened while the link was holding: what the client sends is kept, nothing comes back. */
  held: boolean;
  /** The client's end is cut off: whatever it sends from now on is lost. */
  cut: boolean;
  chunks: Buffer[];
}

/**
 * A TCP link on loopback between a client and a server whose traffic can be held up, to put a
 * request "in the network" at the moment its sender dies: while holding, new connections reach
 * the server but their bytes are kept back; {@link cut} separates their senders; {@link release}
 * delivers what was kept. Bytes are forwarded untouched, so both ends speak their real protocol.
 */
export class TcpLink {
  private server?: Server;
  private holding = false;
  private readonly connections = new Set<Connection>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const c: Connection = { client, upstream, held: this.holding, cut: false, chunks: [] };
    this.connections.add(c);
    client.on('data', (d: Buffer) => {
      if (c.cut) return;
      if (c.held) c.chunks.push(d);
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!c.held) client.write(d);
    });
    // A held connection stays open towards the server until released: its request is still on its way.
    client.on('close', () => c.held || upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  }

  /** New connections are held from now on. */
  hold(): void {
    this.holding = true;
  }

  /** Bytes kept back so far. */
  get heldBytes(): number {
    return [...this.connections].filter((c) => c.held).reduce((n, c) => n + c.chunks.reduce((m, b) => m + b.length, 0), 0);
  }

  /** Cuts the senders of held connections off (what they sent stays kept); new connections pass again. */
  cut(): void {
    this.holding = false;
    for (const c of this.connections) if (c.held) c.cut = true;
  }

  /** Delivers what held connections had sent before they were cut; their answers are lost. */
  release(): void {
    for (const c of this.connections) {
      if (!c.held) continue;
      c.upstream.write(Buffer.concat(c.chunks));
      c.chunks = [];
    }
  }

  async close(): Promise<void> {
    for (const c of this.connections) {
      c.client.destroy();
      c.upstream.destroy();
    }
    this.connections.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
