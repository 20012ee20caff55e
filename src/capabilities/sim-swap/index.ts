import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../infra/config.ts';
import type { Capability, CapabilityRuntime, PlatformServices } from '../types.ts';
import { simSwapHandlers } from './handlers.ts';

const CAPABILITY = 'sim-swap';
const DOCUMENT = fileURLToPath(new URL('../../../openapi/sim-swap.yaml', import.meta.url));

/** Reads SIM history from the network through the `SimHistory` port; holds no state of its own. */
function create({ southbound, redis, key, vault }: PlatformServices): CapabilityRuntime {
  const sims = southbound?.sims;
  if (!sims) {
    throw new ConfigError('sim-swap needs a network with a subscriber database: set PCF_URL and SUBSCRIBER_API_URL, or run the simulators role in this process');
  }
  return { apis: [{ document: DOCUMENT, handlers: simSwapHandlers({ sims, redis, key, vault }) }] };
}

export const simSwap: Capability = {
  id: CAPABILITY,
  title: 'SIM Swap',
  description: 'CAMARA SIM Swap: when the SIM behind a phone number last changed, and whether it changed within the last hours, read from the subscriber database.',
  documents: [DOCUMENT],
  create,
};
