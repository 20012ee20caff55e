/**
 * The baseline of `npm run bench -- qod`: the least an express 5 + ioredis service can do for a
 * POST — parse a small JSON body, write it to Redis under a random key, answer 201. Run as its own
 * process (REDIS_URL names its private redis-server) so that it has a core to itself, as the
 * gateway has in the same run.
 */
import { randomUUID } from 'node:crypto';
import { baselineApp, serveBaseline } from './support/baseline-app.ts';

const { app, redis } = baselineApp();
app.post('/items', async (req, res) => {
  const id = randomUUID();
  await redis.set(`item:${id}`, JSON.stringify(req.body));
  res.status(201).json({ id });
});
serveBaseline(app, redis);
