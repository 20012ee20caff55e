import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import request from 'supertest';
import type { JWTPayload } from 'jose';
import { loadConfig, type GatewayConfig, type Role } from '../../src/infra/config.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createSystem, type System } from '../../src/system.ts';
import type { BootstrapDocument } from '../../src/tenancy/bootstrap.ts';
import type { Capability } from '../../src/capabilities/types.ts';
import { builtinCapabilities } from '../../src/capabilities/index.ts';
import { testRedisUrl } from './hooks.ts';
import { contractProblems, type Exchange } from './contract.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimulatedNetwork } from '../../simulators/index.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const PUBLIC_URL = 'http://gateway.test';

/** Two tenants, each with one application subscribed to everything; plans generous unless overridden. */
export function testBootstrap(overrides: Partial<BootstrapDocument> = {}): BootstrapDocument {
  return {
    capabilities: ['echo'],
    plans: { test: { rateLimit: { requests: 10_000, windowSeconds: 1 }, maxConcurrentResources: 100 } },
    tenants: [
      {
        id: 'acme',
        name: 'Acme',
        applications: [{ clientId: 'acme-app', name: 'Acme backend', clientSecret: 'acme-secret', subscriptions: [{ capability: '*', plan: 'test' }] }],
      },
      {
        id: 'globex',
        name: 'Globex',
        applications: [{ clientId: 'globex-app', name: 'Globex backend', clientSecret: 'globex-secret', subscriptions: [{ capability: '*', plan: 'test' }] }],
      },
    ],
    ...overrides,
  };
}

/** Log lines a test gateway wrote, parsed, plus the raw text (to prove secrets never appear). */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  raw = '';
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      const text = chunk.toString();
      this.raw += text;
      for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line));
      done();
    },
  });
}

export interface TestGateway {
  system: System;
  config: GatewayConfig;
  logs: LogCapture;
  /** supertest against the in-process app (no socket). */
  http: ReturnType<typeof request>;
  /** A client-credentials token for a bootstrap application. */
  token(clientId?: string, secret?: string, scope?: string): Promise<string>;
  /** A token minted directly with the gateway's key (for claims the token endpoint would never issue). */
  mint(claims: JWTPayload, ttlSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  bootstrap?: BootstrapDocument;
  roles?: Role[];
  capabilities?: readonly Capability[];
  redisUrl?: string;
  /** Share the Redis data of another gateway (same prefix): several processes of one deployment. */
  prefix?: string;
  /** A simulated network to drive (Quality on Demand needs one); its capabilities are enabled too. */
  network?: SimulatedNetwork;
  config?: Partial<GatewayConfig>;
}

/** Builds a gateway on the run's private Redis with a unique key prefix, so tests never see each other's data. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const logs = new LogCapture();
  const config = loadConfig(
    { NODE_ENV: 'test', ADMIN_TOKEN, PUBLIC_URL },
    {
      redisUrl: options.redisUrl ?? testRedisUrl(),
      redisPrefix: options.prefix ?? `t-${randomUUID().slice(0, 8)}`,
      bootstrap: options.bootstrap ?? testBootstrap(options.network ? { capabilities: ['echo', 'quality-on-demand'] } : {}),
      network: options.network
        ? { pcfApiRoot: options.network.pcfApiRoot, subscriberApiUrl: options.network.subscriberApiUrl, n5CallbackPort: 0, lineControllerUrl: options.network.lineControllerUrl, lineEventsPort: 0 }
        : undefined,
      shutdownTimeoutMs: 4000,
      ...options.config,
    },
  );
  // The gateway's own logger, with its redaction rules, so tests see exactly what it would write.
  const logger = createLogger('debug', {}, logs.stream);
  const system = await createSystem(config, {
    roles: options.roles ?? ['gateway', 'worker'],
    capabilities: options.capabilities ?? builtinCapabilities,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  const exchanges: Exchange[] = [];
  const http = request(recording(system.app!, exchanges));
  return {
    system,
    config,
    logs,
    http,
    async token(clientId = 'acme-app', secret = clientId.replace(/-app$/, '-secret'), scope?: string) {
      const res = await http
        .post('/oauth2/token')
        .auth(clientId, secret)
        .type('form')
        .send({ grant_type: 'client_credentials', ...(scope !== undefined ? { scope } : {}) });
      if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
    async mint(claims: JWTPayload, ttlSeconds = 300) {
      return await system.keyring.sign({ iss: PUBLIC_URL, aud: PUBLIC_URL, ...claims }, ttlSeconds);
    },
    async close() {
      await system.close();
      // Every response any test received from this gateway must conform to its document.
      const problems = (await Promise.all(exchanges.map(contractProblems))).flat();
      if (problems.length) throw new Error(`responses that break the contract:\n${problems.join('\n')}`);
    },
  };
}

/** Wraps the app so every response is recorded as the client received it. */
function recording(app: (req: IncomingMessage, res: ServerResponse) => void, into: Exchange[]) {
  return function record(req: IncomingMessage, res: ServerResponse) {
    // Taken now: express rewrites req.url inside mounted routers.
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    res.write = ((chunk: unknown, ...rest: unknown[]) => (keep(chunk, rest[0]), write(chunk, ...rest))) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => (keep(chunk, rest[0]), end(chunk, ...rest))) as typeof res.end;
    res.on('finish', () =>
      into.push({
        method,
        path,
        status: res.statusCode,
        headers: res.getHeaders() as Exchange['headers'],
        text: Buffer.concat(chunks).toString('utf8'),
      }),
    );
    app(req, res);
  };
}

