import { spawn } from 'node:child_process';

/**
 * Runs the real FreeRADIUS radclient (Debian package freeradius-utils) against a listener on
 * loopback; `answered` is true when an Accounting-Response came back.
 */
export function radclient(port: number, attributes: string, o: { secret: string; timeoutSeconds?: number }): Promise<{ answered: boolean; output: string }> {
  const args = ['-x', '-r', '1', '-t', String(o.timeoutSeconds ?? 3), `127.0.0.1:${port}`, 'acct', o.secret];
  return new Promise((resolve, reject) => {
    const child = spawn('radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ answered: code === 0 && /Received Accounting-Response/.test(output), output }));
    child.stdin.end(`${attributes}\n`);
  });
}

/** A radclient attribute list for a session record of the packet gateway. */
export function record(status: string, o: { ip?: string; msisdn?: string; session?: string; nas?: string }): string {
  const parts = [`Acct-Status-Type = ${status}`];
  if (o.ip) parts.push(`Framed-IP-Address = ${o.ip}`);
  if (o.msisdn) parts.push(`Calling-Station-Id = "${o.msisdn}"`);
  if (o.session) parts.push(`Acct-Session-Id = "${o.session}"`);
  parts.push(`NAS-IP-Address = ${o.nas ?? '127.0.0.1'}`);
  return parts.join(', ');
}
