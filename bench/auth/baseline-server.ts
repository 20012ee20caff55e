/**
 * The baseline of `npm run bench -- auth`: the least an express 5 + ioredis service can do to
 * exchange a single-use token — parse a small JSON body, GETDEL the token's key, answer 200 with
 * what it held (404 when nothing). Its own process, on its own redis-server (REDIS_URL).
 */
import { baselineApp, serveBaseline } from '../support/baseline-app.ts';

const { app, redis } = baselineApp();
app.post('/exchange', async (req, res) => {
  const value = await redis.getdel(`tok:${String(req.body?.token)}`);
  if (value === null) res.status(404).json({ error: 'unknown token' });
  else res.status(200).json({ phoneNumber: value });
});
serveBaseline(app, redis);
