/**
 * Runs the PCF simulator alone:
 *
 *   tsx simulators/pcf/main.ts --port 7777 --bearer-controller http://127.0.0.1:9101
 *     [--bearer-events-port 0] [--api-root http://127.0.0.1:7777] [--time-scale 1]
 *     [--callback-protocol h2c|http1] [--qos-references table.json] [--anchors DIR|none] [--stopped]
 *
 * SIGUSR1 stops the SBI listener (clients get connection refused), SIGUSR2 starts it again;
 * SIGTERM / SIGINT close everything and exit 0.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startPcf, type CallbackProtocol, type QosReferenceEntry } from './index.ts';

const USAGE = 'usage: tsx simulators/pcf/main.ts --bearer-controller URL [--port N] [--bearer-events-port N] [--api-root URL] [--time-scale X] [--callback-protocol h2c|http1] [--qos-references FILE.json] [--anchors DIR|none] [--stopped]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7777' },
      'bearer-controller': { type: 'string' },
      'bearer-events-port': { type: 'string', default: '0' },
      'api-root': { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      'callback-protocol': { type: 'string', default: 'h2c' },
      'qos-references': { type: 'string' },
      anchors: { type: 'string' },
      stopped: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values['bearer-controller']) {
    process.stderr.write(USAGE + '\n');
    process.exit(values.help ? 0 : 2);
  }
  const protocol = values['callback-protocol'];
  if (protocol !== 'h2c' && protocol !== 'http1') throw new Error(`--callback-protocol must be h2c or http1, not ${protocol}`);
  const pcf = await startPcf({
    port: Number(values.port),
    bearerControllerUrl: values['bearer-controller']!,
    bearerEventsPort: Number(values['bearer-events-port']),
    apiRoot: values['api-root'],
    timeScale: Number(values['time-scale']),
    callbackProtocol: protocol as CallbackProtocol,
    qosReferences: values['qos-references'] ? (JSON.parse(readFileSync(values['qos-references'], 'utf8')) as Record<string, QosReferenceEntry>) : undefined,
    anchorsDir: values.anchors === 'none' ? null : values.anchors,
    startStopped: values.stopped,
  });
  process.on('SIGUSR1', () => void pcf.stop());
  process.on('SIGUSR2', () => void pcf.start().catch((err) => process.stderr.write(`cannot start the SBI listener: ${err}\n`)));
  const shutdown = () => void pcf.close().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err) => {
  process.stderr.write(`pcf simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
