import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis, waitReady } from '../src/infra/redis.ts';
import { startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';

/** Counts the writes that reach the connection's socket (one per syscall, whatever they carry). */
function countWrites(client: Redis): { readonly writes: number; readonly chunks: number } {
  const socket = client.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const counts = { writes: 0, chunks: 0 };
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (this: unknown, ...a: unknown[]) {
    counts.writes++;
    counts.chunks++;
    return write.apply(this, a);
  };
  socket._writev = function (this: unknown, chunks: unknown[], cb: unknown) {
    counts.writes++;
    counts.chunks += chunks.length;
    return writev.call(this, chunks, cb);
  };
  return counts;
}

describe('the command connection', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let dir: string;
  const clients: Redis[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eg-redis-conn-'));
    server = await startRedisServer({ dir, appendOnly: false });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(purpose: 'command' | 'blocking', o?: { batchWrites?: boolean }): Promise<Redis> {
    const client = createRedis(server.url, purpose, 'test', o) as Redis;
    clients.push(client);
    await waitReady(client, server.url);
    return client;
  }

  it('sends the commands of one turn of the event loop in one write, with their replies in order', async () => {
    const client = await connect('command');
    const counts = countWrites(client);
    const keys = Array.from({ length: 20 }, (_, i) => `batch:${i}`);
    // Issued from separate async steps of the same turn, as concurrent requests do.
    const pending = keys.map(async (k, i) => (await client.set(k, String(i)), client.get(k)));
    // Corked on the socket, not held in ioredis's per-turn Pipeline objects (a few kilobytes each).
    assert.equal(client.autoPipelineQueueSize, 0);
    const replies = await Promise.all(pending);
    assert.deepEqual(replies, keys.map((_, i) => String(i)));
    // The 20 SETs in one write, then the 20 GETs (issued as the SETs' replies came) in at most a few.
    assert.ok(counts.writes <= 4, `${counts.writes} writes for 40 commands`);
    assert.equal(counts.chunks, 40);
  });

  it('still answers commands issued in later turns, one write each', async () => {
    const client = await connect('command');
    const counts = countWrites(client);
    for (let i = 0; i < 3; i++) assert.equal(await client.incr('turns'), i + 1);
    assert.equal(counts.writes, 3);
  });

  it('its duplicates batch too (BullMQ runs its workers on duplicates of the connection it is given)', async () => {
    const client = await connect('blocking', { batchWrites: true });
    const copy = client.duplicate();
    clients.push(copy);
    await waitReady(copy, server.url);
    const counts = countWrites(copy);
    await Promise.all(Array.from({ length: 10 }, (_, i) => copy.set(`dup:${i}`, 'x')));
    assert.equal(counts.writes, 1);
    assert.equal(counts.chunks, 10);
  });

  it('a connection without batching is not held back', async () => {
    const client = await connect('command', { batchWrites: false });
    const counts = countWrites(client);
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.set(`plain:${i}`, 'x')));
    // The first command leaves at once; only what queues behind a pending write can share one.
    assert.ok(counts.writes >= 2, `${counts.writes} writes`);
  });
});
