import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/infra/redis-server.ts';
import { ROOT } from './support/process.ts';

/** The commands of the README's "Quick start" section, in order. */
export function quickStartCommands(readme: string): string[] {
  const section = /^## Quick start\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  assert.ok(section, 'README has a "## Quick start" section');
  const blocks = [...section.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((b) => b.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
}

function run(command: string, cwd: string, env: Record<string, string>) {
  // Its own process group, so the whole tree (npm, sh, node, redis-server) can be signalled.
  const child = spawn('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

/**
 * What this checkout holds that a clone of HEAD would not (changed, untracked or ignored files),
 * read before any test writes anything. Installed dependencies and `var/` (where `npm start`
 * keeps its private Redis; no test reads it) are no difference. When it holds nothing else, this
 * very run is a run of the committed tree (CI's own fresh clone, for one).
 */
const notInHead = execFileSync('git', ['status', '--porcelain', '--ignored'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((line) => line && line !== '!! node_modules/' && line !== '!! var/');

describe("the README's quick start, from a fresh clone", function () {
  this.timeout(600_000);
  let dir: string;

  before(function () {
    if (process.env.EG_INSIDE_FRESH_CLONE) {
      console.log('    skipped: this run is itself the fresh-clone check started by the outer test run');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'eg-clone-'));
    execFileSync('git', ['clone', '--quiet', ROOT, join(dir, 'gateway')]);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has exactly two commands: install-and-start, then test', () => {
    const commands = quickStartCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    assert.deepEqual(commands, ['npm ci && npm start', 'npm test']);
  });

  it('`npm ci && npm start` serves /readyz 200 with the demo tenant, and a token for the demo credentials', async () => {
    const [start] = quickStartCommands(readFileSync(join(dir, 'gateway', 'README.md'), 'utf8'));
    const port = await freePort();
    const proc = run(start, join(dir, 'gateway'), { PORT: String(port), LOG_LEVEL: 'warn' });
    try {
      let ready: Response | undefined;
      for (let i = 0; i < 2400 && ready?.status !== 200; i++) {
        if (proc.child.exitCode !== null) assert.fail(`npm start exited early:\n${proc.output()}`);
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (ready?.status !== 200) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(ready?.status, 200, proc.output());
      const token = await fetch(`http://127.0.0.1:${port}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=invoice-cloud-app&client_secret=demo-secret-change-me',
      });
      assert.equal(token.status, 200);
      const { access_token } = (await token.json()) as { access_token: string };
      const job = await fetch(`http://127.0.0.1:${port}/echo/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
        body: '{"message":"hello from a fresh clone"}',
      });
      assert.equal(job.status, 201);
    } finally {
      process.kill(-proc.child.pid!, 'SIGTERM');
      await proc.exited;
    }
  });

  it('`npm test` passes in the clone', async function () {
    if (notInHead.length === 0) {
      // The tests of the committed tree are the ones running now; running them again in a clone
      // would prove nothing more and double the run.
      console.log('    skipped: this checkout is exactly its commit (nothing changed, untracked or ignored besides node_modules and var), so this run is the committed tree\'s own');
      this.skip();
    }
    const [, test] = quickStartCommands(readFileSync(join(dir, 'gateway', 'README.md'), 'utf8'));
    const proc = run(test, join(dir, 'gateway'), { EG_INSIDE_FRESH_CLONE: '1' });
    const code = await proc.exited;
    const summary = /^(\d+) passed, (\d+) failed/m.exec(proc.output());
    assert.ok(summary, `no summary line:\n${proc.output().slice(-3000)}`);
    assert.equal(code, 0, proc.output().slice(-3000));
    assert.equal(summary[2], '0');
    assert.ok(Number(summary[1]) > 50, `only ${summary[1]} tests passed`);
  });
});
