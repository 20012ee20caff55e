import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../../src/infra/redis-server.ts';
import type { Cleanup } from './cleanup.ts';

/** A private redis-server for one part of a run, configured as in production (append-only, fsync every second, noeviction). */
export interface BenchRedis {
  server: RedisServer;
  /** Stops it now and removes its data directory (also done by the cleanup otherwise). */
  stop(): Promise<void>;
}

export async function startBenchRedis(cleanup: Cleanup, name: string): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), `eg-bench-${name}-`));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const server = await startRedisServer({ dir, appendOnly: true });
  const stopServer = cleanup.add(`redis-server (${name})`, () => server.stop());
  return {
    server,
    async stop() {
      await stopServer();
      await removeDir();
    },
  };
}
