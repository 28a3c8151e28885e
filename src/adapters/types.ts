/** What every dialect adapter receives from the composition root. */
import type { Config } from '../config.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';
import type { AuthFailureLimiter } from './auth.js';

export interface AdapterDeps {
  core: Core;
  logger: Logger;
  config: Config;
  /** The process's one failure limiter: a client failing on one dialect is slowed down on all. */
  authLimiter: AuthFailureLimiter;
}
