/**
 * The baseline of `npm run bench -- auth`: the least an express 5 + ioredis service can do to
 * exchange a single-use token — parse a small JSON body, GETDEL the token's key, answer 200 with
 * what it held (404 when nothing). Its own process, on its own redis-server (REDIS_URL).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { serveAsChild } from '../support/children.ts';

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
redis.on('error', () => {}); // a failed GETDEL fails its request
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '64kb' }));
app.post('/exchange', async (req, res) => {
  const value = await redis.getdel(`tok:${String(req.body?.token)}`);
  if (value === null) res.status(404).json({ error: 'unknown token' });
  else res.status(200).json({ phoneNumber: value });
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
