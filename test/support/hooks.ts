import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../../src/infra/redis-server.ts';

let server: RedisServer | undefined;
let dir: string | undefined;

/** The private Redis of this test run (never the shared 6379). */
export function testRedisUrl(): string {
  if (!server) throw new Error('the test Redis is not running');
  return server.url;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(20_000);
    dir = mkdtempSync(join(tmpdir(), 'eg-test-redis-'));
    server = await startRedisServer({ dir, appendOnly: false });
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
};
