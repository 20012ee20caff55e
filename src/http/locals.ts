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

/** What the gateway keeps about one request while it is served (`res.locals`). */
export class RequestLocals implements Express.Locals {
  correlator = '';
  principal?: Principal;
  operation?: string;
  private logger?: Logger;

  constructor(private readonly root: Logger) {}

  /** Made when first used: most requests log nothing below the configured level. */
  get log(): Logger {
    return (this.logger ??= this.root.child({ correlator: this.correlator }));
  }

  set log(value: Logger) {
    this.logger = value;
  }
}
