import { N5QosController } from '../adapters/n5/n5-qos-controller.ts';
import { SubscriberApiIdentity } from '../adapters/subscriber-api/subscriber-api-identity.ts';
import { TmfLineController } from '../adapters/tmf/tmf-line-controller.ts';
import type { Southbound } from './capabilities/types.ts';
import { ConfigError } from './infra/config.ts';
import type { Logger } from './infra/logger.ts';

/** Where the network is: real elements in production, the simulators in development and tests. */
export interface NetworkEndpoints {
  /** apiRoot of the PCF's Npcf_PolicyAuthorization (h2c). */
  pcfApiRoot: string;
  /** Base URL of the subscriber API (UE table). */
  subscriberApiUrl: string;
  /** Port of our N5 callback server (0: any free port). */
  n5CallbackPort: number;
  /** The URL the PCF uses to reach that server; derived from the port when absent. */
  n5CallbackUrl?: string;
  /** Interface the callback server binds to. @defaultValue '127.0.0.1' */
  n5CallbackHost?: string;
  /** Base URL of the OSS's TM Forum APIs (TMF638 inventory, TMF641 ordering) for dedicated lines. */
  lineControllerUrl?: string;
  /** Port of our TMF event listener (0: any free port); the URL the OSS uses, derived when absent. */
  lineEventsPort?: number;
  lineEventsUrl?: string;
}

/**
 * Reads the network endpoints from the environment (`PCF_URL`, `SUBSCRIBER_API_URL`,
 * `N5_CALLBACK_PORT`, `N5_CALLBACK_URL`, `LINE_CONTROLLER_URL`, `LINE_EVENTS_PORT`, `LINE_EVENTS_URL`).
 */
export function endpointsFromEnv(env: Record<string, string | undefined>, fallback?: Partial<NetworkEndpoints>): NetworkEndpoints | undefined {
  const pcfApiRoot = env.PCF_URL || fallback?.pcfApiRoot;
  const subscriberApiUrl = env.SUBSCRIBER_API_URL || fallback?.subscriberApiUrl;
  if (!pcfApiRoot && !subscriberApiUrl) return undefined;
  if (!pcfApiRoot || !subscriberApiUrl) throw new ConfigError('set both PCF_URL and SUBSCRIBER_API_URL (or neither, to use the simulated network)');
  const port = Number(env.N5_CALLBACK_PORT ?? fallback?.n5CallbackPort ?? 0);
  if (!Number.isInteger(port) || port < 0) throw new ConfigError('N5_CALLBACK_PORT must be a port number');
  const linePort = Number(env.LINE_EVENTS_PORT ?? fallback?.lineEventsPort ?? 0);
  if (!Number.isInteger(linePort) || linePort < 0) throw new ConfigError('LINE_EVENTS_PORT must be a port number');
  return {
    pcfApiRoot,
    subscriberApiUrl,
    n5CallbackPort: port,
    n5CallbackUrl: env.N5_CALLBACK_URL || fallback?.n5CallbackUrl,
    n5CallbackHost: env.N5_CALLBACK_HOST || fallback?.n5CallbackHost,
    lineControllerUrl: env.LINE_CONTROLLER_URL || fallback?.lineControllerUrl,
    lineEventsPort: linePort,
    lineEventsUrl: env.LINE_EVENTS_URL || fallback?.lineEventsUrl,
  };
}

/** A connected southbound: the ports the capabilities use, and how to stop it. */
export interface ConnectedSouthbound extends Southbound {
  close(): Promise<void>;
}

/**
 * Builds the southbound adapters. With `listen` (the worker role) the N5 callback server starts,
 * so the PCF's notifications reach this process.
 */
export async function connectSouthbound(endpoints: NetworkEndpoints, options: { listen: boolean; logger?: Logger }): Promise<ConnectedSouthbound> {
  const host = endpoints.n5CallbackHost ?? '127.0.0.1';
  let callbackBase = endpoints.n5CallbackUrl ?? `http://${host}:${endpoints.n5CallbackPort}`;
  const qos = new N5QosController({ pcfApiRoot: endpoints.pcfApiRoot, callbackBase, callbackPort: endpoints.n5CallbackPort, callbackHost: host });
  if (options.listen) {
    const port = await qos.listen();
    if (!endpoints.n5CallbackUrl) callbackBase = `http://${host}:${port}`;
    qos.setCallbackBase(callbackBase);
  }
  const identity = new SubscriberApiIdentity(endpoints.subscriberApiUrl, {
    onFeedState: (open, why) =>
      open ? options.logger?.info('subscriber change feed open: identity answers are kept until it reports a change') : options.logger?.warn({ why }, 'subscriber change feed closed: every identity lookup asks the subscriber API until it reopens'),
  });
  let lines: TmfLineController | undefined;
  if (endpoints.lineControllerUrl) {
    lines = new TmfLineController({ baseUrl: endpoints.lineControllerUrl, callbackHost: host, callbackPort: endpoints.lineEventsPort ?? 0, callbackUrl: endpoints.lineEventsUrl });
    try {
      if (options.listen) await lines.listen();
    } catch (err) {
      identity.close();
      await qos.close();
      throw err;
    }
  }
  return {
    qos,
    identity,
    sims: identity,
    addresses: identity,
    lines,
    async close() {
      identity.close();
      await lines?.close();
      await qos.close();
    },
  };
}
