import type { Capability } from './types.ts';
import { echoCapability } from './echo/index.ts';
import { qualityOnDemand } from './qod/index.ts';
import { oneClickLogin } from './one-click-login/index.ts';
import { simSwap } from './sim-swap/index.ts';
import { numberVerification } from './number-verification/index.ts';
import { dedicatedLine } from './dedicated-line/index.ts';

/** Every capability this gateway ships; the bootstrap's `capabilities` list picks which run. */
export const builtinCapabilities: readonly Capability[] = [echoCapability, qualityOnDemand, simSwap, oneClickLogin, numberVerification, dedicatedLine];
