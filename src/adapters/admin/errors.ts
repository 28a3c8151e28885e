/** The admin pages' errors: plain text for a person in a browser. */
import type { Response } from 'express';
import { tooManyFailures, type AuthOutcome } from '../auth.js';

export function authFailure(outcome: Exclude<AuthOutcome, { kind: 'ok' }>, _req: unknown, res: Response): void {
  if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
  if (outcome.kind === 'unavailable') return void res.status(503).type('text/plain').send('Database unavailable.');
  res.set('WWW-Authenticate', 'Basic realm="Mailgate outbox"').status(401).type('text/plain').send('Authorization failed.\n');
}

export function noSuchMessage(res: Response): void {
  res.status(404).type('text/plain').send('No such message.');
}
