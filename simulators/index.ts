/**
 * The simulated network the gateway talks to in development and tests: a bearer controller (the
 * radio and core model, with the UE table) and a PCF in front of it. Each also runs alone
 * (`simulators/<element>/main.ts`); this starts both, wired together, on loopback.
 */
import { startBearerController, type BearerController } from './bearer-controller/index.ts';
import { startPcf, type PcfHandle } from './pcf/index.ts';

export interface SimulatedNetworkOptions {
  /** PRNG seed of the radio model. @defaultValue 1 */
  seed?: number;
  /** Multiplies every simulated delay (0: none). @defaultValue 1 */
  timeScale?: number;
  /** Ports (0: free ones). */
  bearerControllerPort?: number;
  pcfPort?: number;
  /** Receives the simulators' log lines. @defaultValue silent */
  log?: (line: Record<string, unknown>) => void;
}

export interface SimulatedNetwork {
  bearerController: BearerController;
  pcf: PcfHandle;
  /** Where the gateway's adapters find the network. */
  pcfApiRoot: string;
  subscriberApiUrl: string;
  /** POSTs to the bearer controller's control API (`/control/...`), for faults. */
  control(path: string, body?: unknown): Promise<unknown>;
  /** The PCF's control API: `POST {pcfControlUrl}/stop` and `/start` refuse or accept N5 connections. */
  pcfControlUrl: string;
  close(): Promise<void>;
}

export async function startSimulatedNetwork(options: SimulatedNetworkOptions = {}): Promise<SimulatedNetwork> {
  const log = options.log ?? (() => {});
  const bearerController = await startBearerController({
    port: options.bearerControllerPort ?? 0,
    seed: options.seed ?? 1,
    timeScale: options.timeScale ?? 1,
    log: (msg, fields) => log({ element: 'bearer-controller', msg, ...fields }),
  });
  let pcf: PcfHandle;
  try {
    pcf = await startPcf({ port: options.pcfPort ?? 0, bearerControllerUrl: bearerController.url, timeScale: options.timeScale ?? 1, log: (e) => log({ element: 'pcf', ...e }) });
  } catch (err) {
    await bearerController.close();
    throw err;
  }
  return {
    bearerController,
    pcf,
    pcfApiRoot: pcf.url,
    subscriberApiUrl: bearerController.url,
    pcfControlUrl: pcf.bearerEventsUrl.replace(/\/bearer-events$/, '/control'),
    async control(path, body) {
      const res = await fetch(`${bearerController.url}/control/${path.replace(/^\/+/, '')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`control ${path} failed: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    async close() {
      await pcf.close();
      await bearerController.close();
    },
  };
}
