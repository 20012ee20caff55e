/**
 * The activation-latency probe, in a process of its own: the open-loop client that sends the
 * creates and the sink that hears their AVAILABLE events share one clock and one small heap. In
 * the benchmark process they would share its event loop with a sink that has heard every session
 * of the run and with autocannon's state, and its pauses would be counted as the gateway's latency.
 *
 * Reads one createSession body per line from BODIES, each naming its sink as SINK_PLACEHOLDER; posts them to URL at RATE per second with HEADERS, the first WARMUP not measured;
 * waits for the events and sends a {@link ProbeResult} over IPC.
 */
import { readFileSync } from 'node:fs';
import { pacedPost } from '../support/paced.ts';
import { SINK_PLACEHOLDER, TimingSink, type ProbeResult } from './sink.ts';

const WAIT_MS = 30_000;

async function main(): Promise<ProbeResult> {
  const sink = await new TimingSink().start();
  try {
    const placeholder = JSON.stringify(SINK_PLACEHOLDER);
    const sinkJson = JSON.stringify(sink.url);
    const bodies = readFileSync(process.env.BODIES!, 'utf8').split('\n').filter(Boolean);
    const sentAt = new Map<string, number>();
    let created = 0;
    let next = 0;
    const create = await pacedPost({
      url: process.env.URL!,
      rate: Number(process.env.RATE),
      count: bodies.length,
      warmupCount: Number(process.env.WARMUP ?? 0),
      headers: JSON.parse(process.env.HEADERS!) as Record<string, string>,
      body: () => bodies[next++].replace(placeholder, sinkJson),
      onResponse: (status, body, sent, measured) => {
        if (status !== 201) return;
        created++;
        if (measured) sentAt.set((JSON.parse(body) as { sessionId: string }).sessionId, sent);
      },
    });
    const missing = await sink.waitFor(sentAt.keys(), WAIT_MS);
    // The warm-up's events too, so that none is still on its way to this sink when it closes.
    const end = Date.now() + WAIT_MS;
    while (sink.heard < created && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return { create, arrivals: sink.arrivalsOf(sentAt), missing, others: Object.fromEntries(sink.others) };
  } finally {
    await sink.close();
  }
}

// Nothing to report to once the benchmark has gone.
process.on('disconnect', () => process.exit(1));

main().then(
  (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
  (err) => {
    process.stderr.write(`activation probe failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
