/**
 * The baseline of `npm run bench -- qod`: the least an express 5 + ioredis service can do for a
 * POST — parse a small JSON body, write it to Redis under a random key, answer 201. Run as its own
 * process (REDIS_URL names its private redis-server) so that it has a core to itself, as the
 * gateway has in the same run.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { serveAsChild } from './support/children.ts';

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
redis.on('error', () => {}); // a failed SET fails its request
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '64kb' }));
app.post('/items', async (req, res) => {
  const id = randomUUID();
  await redis.set(`item:${id}`, JSON.stringify(req.body));
  res.status(201).json({ id });
});

const server = createServer(app);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  serveAsChild((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await redis.quit();
  });
});
