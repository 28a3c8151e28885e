import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One logger for the process: JSON lines on stderr (stdout stays for what a command prints: the start
 * banner, `--json` answers). Secrets never reach it: auth headers and secret fields are redacted.
 */
export function makeLogger(level: string): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'secret', '*.secret', 'password', '*.password'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}
