import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

/** A markdown table; cells are already formatted. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The facts a reader needs to compare one run with another. */
export function machineFacts(): string[] {
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    // reported as unknown
  }
  const list = cpus();
  return [
    `${list.length} cores (${list[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}`,
    `Node ${process.version}, redis-server ${redis}`,
  ];
}

/**
 * Puts `body` into `file` between the markers of `name`, replacing what an earlier run of the same
 * benchmark wrote and keeping everything else (other benchmarks' sections, text around them).
 */
export function writeSection(file: string, title: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `# ${title}\n\nWritten by \`npm run bench -- <name>\`; each section is replaced by the next run of its benchmark.\n`;
  const at = current.indexOf(start);
  const next = at >= 0 && current.indexOf(end, at) > at ? current.slice(0, at) + section + current.slice(current.indexOf(end, at) + end.length) : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}
