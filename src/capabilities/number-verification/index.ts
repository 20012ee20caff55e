import { fileURLToPath } from 'node:url';
import { defineErrors } from '../../http/errors.ts';
import { AuditLog } from '../../audit/audit-log.ts';
import type { Capability, CapabilityRuntime, PlatformServices } from '../types.ts';
import { CAPABILITY, NOT_NETWORK_AUTHENTICATED, numberVerificationHandlers } from './handlers.ts';

defineErrors({
  [NOT_NETWORK_AUTHENTICATED]: { status: 403, message: 'Client must authenticate via the mobile network to use this service' },
});

const DOCUMENT = fileURLToPath(new URL('../../../openapi/number-verification.yaml', import.meta.url));

function create(services: PlatformServices): CapabilityRuntime {
  const { redis, key, vault, config } = services;
  const handlers = numberVerificationHandlers({ redis, key, vault, audit: new AuditLog(redis, key), clockToleranceSeconds: config.clockToleranceSeconds });
  return { apis: [{ document: DOCUMENT, handlers }] };
}

/**
 * CAMARA Number Verification 2.1: the phone number of the device a user holds, as the mobile
 * network knows it. Its tokens come from the OIDC authorization code flow with network-based
 * authentication (src/auth/authorize.ts); the device is the token's, so no network call is needed.
 */
export const numberVerification: Capability = {
  id: CAPABILITY,
  title: 'Number Verification',
  description: 'Verifies or returns the phone number of the device a user holds, authenticated silently by the mobile network (CAMARA Number Verification 2.1).',
  documents: [DOCUMENT],
  create,
};
