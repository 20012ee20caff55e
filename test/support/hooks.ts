import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '../../src/infra/redis-server.ts';
import { documents } from './contract.ts';

let server: RedisServer | undefined;
let dir: string | undefined;

/** The private Redis of this test run (never the shared 6379). */
export function testRedisUrl(): string {
  if (!server) throw new Error('the test Redis is not running');
  return server.url;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    // Compiling every API document's validators takes seconds on a slow machine: done once here,
    // not inside whichever test happens to check a response first.
    this.timeout(120_000);
    dir = mkdtempSync(join(tmpdir(), 'eg-test-redis-'));
    server = await startRedisServer({ dir, appendOnly: false });
    await documents();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
};
