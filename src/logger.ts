import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One logger for the process, on stderr (stdout stays for what a command prints: the start banner, `--json`
 * answers). JSON lines, or human-readable with `pretty` (`'auto'`: when stderr is a terminal).
 * Secrets never reach it: auth headers and secret fields are redacted.
 */
export function makeLogger(level: string, pretty: boolean | 'auto' = false): Logger {
  const dest = pino.destination(2);
  const options = {
    level,
    redact: { paths: ['req.headers.authorization', 'secret', '*.secret', 'password', '*.password'], censor: '[redacted]' },
  };
  if (!(pretty === 'auto' ? process.stderr.isTTY : pretty)) return pino(options, dest);
  // Formatted in the logging call itself and written to the same destination as the JSON lines, whose pending
  // writes pino flushes on exit: a transport (worker thread) or pino-pretty's stream (a Transform) could still
  // hold the last lines when process.exit() runs.
  // Required here: pino-pretty takes a few hundredths of a second to load, which JSON logging (a command whose
  // stderr is not a terminal) should not pay.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const format = prettyFactory({ colorize: Boolean(process.stderr.isTTY), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return pino(options, { write: (line: string) => void dest.write(format(line)) });
}
