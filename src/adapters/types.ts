/** What every dialect adapter receives from the composition root. */
import type { Config } from '../config.js';
import type { Core } from '../core/index.js';
import type { Logger } from '../logger.js';

export interface AdapterDeps {
  core: Core;
  logger: Logger;
  config: Config;
}
