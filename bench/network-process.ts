/**
 * The simulated network of `npm run bench -- qod`, in its own process as a real network would be:
 * the PCF (N5 over h2c) and the bearer controller with its subscriber API, delays off
 * (`timeScale: 0`), so that what is measured is the gateway's own work.
 */
import { startSimulatedNetwork } from '../simulators/index.ts';
import { serveAsChild } from './support/children.ts';

const net = await startSimulatedNetwork({ timeScale: 0, seed: 7 });
serveAsChild(0, () => net.close(), { pcfApiRoot: net.pcfApiRoot, subscriberApiUrl: net.subscriberApiUrl });
