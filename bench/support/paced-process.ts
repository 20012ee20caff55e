/**
 * The open-loop client of `pacedPost`, in a process of its own: a latency measurement should not
 * wait on the benchmark process, whose heap holds token pools and load-generator state and whose
 * garbage collection would be counted as the server's latency. Reads its bodies from BODIES (one
 * per line), posts them to URL at RATE per second with HEADERS, and sends the result over IPC.
 */
import { readFileSync } from 'node:fs';
import { pacedPost } from './paced.ts';

const bodies = readFileSync(process.env.BODIES!, 'utf8').split('\n').filter(Boolean);
let next = 0;
const result = await pacedPost({
  url: process.env.URL!,
  rate: Number(process.env.RATE),
  count: bodies.length,
  headers: JSON.parse(process.env.HEADERS!) as Record<string, string>,
  body: () => bodies[next++],
  warmupCount: Number(process.env.WARMUP ?? 0),
});
process.send!({ type: 'result', result }, () => process.exit(0));
