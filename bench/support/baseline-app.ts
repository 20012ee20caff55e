import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import { serveAsChild } from './children.ts';

/**
 * The bare service a benchmark's baseline is: express 5 parsing small JSON bodies and one ioredis
 * connection to the redis-server named by REDIS_URL. The benchmark adds its one route.
 */
export function baselineApp(): { app: Express; redis: Redis } {
  const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a failed command fails its request
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '64kb' }));
  return { app, redis };
}

/** Serves the baseline on loopback as a benchmark child (reports its port, stops on SIGTERM). */
export function serveBaseline(app: Express, redis: Redis): void {
  const server = createServer(app);
  server.keepAliveTimeout = 5000;
  server.listen(0, '127.0.0.1', () => {
    serveAsChild((server.address() as AddressInfo).port, async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await redis.quit();
    });
  });
}
