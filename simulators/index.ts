/**
 * The simulated network the gateway talks to in development and tests: a bearer controller (the
 * radio and core model, with the UE table), a PCF in front of it, and a line controller (the OSS
 * of enterprise dedicated lines, TMF638/TMF641). Each also runs alone
 * (`simulators/<element>/main.ts`); this starts them, wired together, on loopback.
 */
import { startBearerController, type BearerController } from './bearer-controller/index.ts';
import { startLineController, type LineControllerHandle } from './line-controller/index.ts';
import { startPcf, type PcfHandle } from './pcf/index.ts';

export interface SimulatedNetworkOptions {
  /** PRNG seed of the radio model. @defaultValue 1 */
  seed?: number;
  /** Multiplies every simulated delay (0: none). @defaultValue 1 */
  timeScale?: number;
  /** Ports (0: free ones). */
  bearerControllerPort?: number;
  pcfPort?: number;
  lineControllerPort?: number;
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
  lineController: LineControllerHandle;
  /** `http://127.0.0.1:<port>`: the base of the OSS's TMF APIs (`/tmf-api/...`) for dedicated lines. */
  lineControllerUrl: string;
  /** POSTs to the line controller's control API (`/control/...`): lines, cuts, demand, failures. */
  lineControl(path: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** POSTs `body` to `{baseUrl}/control/{path}` and returns the parsed answer; throws on an error status. */
async function postControl(baseUrl: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${baseUrl}/control/${path.replace(/^\/+/, '')}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`control ${path} failed: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
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
    // The PCF calls the controller in this process directly; the controller's HTTP API stays for the gateway.
    pcf = await startPcf({ port: options.pcfPort ?? 0, bearerControllerUrl: bearerController.url, bearerController, timeScale: options.timeScale ?? 1, log: (e) => log({ element: 'pcf', ...e }) });
  } catch (err) {
    await bearerController.close();
    throw err;
  }
  let lineController: LineControllerHandle;
  try {
    lineController = await startLineController({
      port: options.lineControllerPort ?? 0,
      seed: options.seed ?? 1,
      timeScale: options.timeScale ?? 1,
      log: (msg, fields) => log({ element: 'line-controller', msg, ...fields }),
    });
  } catch (err) {
    await pcf.close();
    await bearerController.close();
    throw err;
  }
  return {
    bearerController,
    pcf,
    pcfApiRoot: pcf.url,
    subscriberApiUrl: bearerController.url,
    pcfControlUrl: pcf.bearerEventsUrl.replace(/\/bearer-events$/, '/control'),
    lineController,
    lineControllerUrl: lineController.url,
    control: (path, body) => postControl(bearerController.url, path, body),
    lineControl: (path, body) => postControl(lineController.url, path, body),
    async close() {
      await lineController.close();
      await pcf.close();
      await bearerController.close();
    },
  };
}
