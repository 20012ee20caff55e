import type { Logger } from '../infra/logger.ts';
import type { Principal } from '../auth/access.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The request's x-correlator (given or generated). */
      correlator: string;
      /** The request's logger, bound to its correlator. */
      log: Logger;
      /** The authenticated API client, once its token was checked. */
      principal?: Principal;
      /** The operation served, for metrics and logs (operationId or a fixed name). */
      operation?: string;
    }
  }
}

export {};
