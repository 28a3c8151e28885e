/**
 * The admin pages' errors: pages for a person in a browser. A refused action is a page saying why, with a
 * way back; nothing is changed by a request that gets one.
 */
import type { Response } from 'express';
import type { DomainError, DomainErrorCode } from '../../core/errors.js';
import { tooManyFailures, type AuthOutcome } from '../auth.js';
import { messagePage, type Viewer } from './serializers.js';

/** The scripted outbox read (an API key by HTTP Basic): plain text, with `WWW-Authenticate` so that a browser asks. */
export function authFailure(outcome: Exclude<AuthOutcome, { kind: 'ok' }>, _req: unknown, res: Response): void {
  if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
  if (outcome.kind === 'unavailable') return void res.status(503).type('text/plain').send('Database unavailable.');
  res.set('WWW-Authenticate', 'Basic realm="Mailgate outbox"').status(401).type('text/plain').send('Authorization failed.\n');
}

const STATUS: Record<DomainErrorCode, [status: number, title: string]> = {
  NOT_FOUND: [404, 'Not found'],
  INVALID_ARGUMENT: [400, 'Not accepted'],
  FORBIDDEN_STATE: [409, 'Not possible now'],
  BAD_REQUEST: [400, 'Not accepted'],
  CONFLICT: [409, 'Already there'],
};

/** A domain error as a page: the core's neutral message, which names no internal identifier. */
export function domainErrorPage(e: DomainError, viewer: Viewer | undefined, res: Response): void {
  const [status, title] = STATUS[e.code];
  res
    .status(status)
    .type('html')
    .send(messagePage(viewer, title, e.message));
}

export function notFoundPage(viewer: Viewer | undefined, res: Response, what = 'No such page.'): void {
  res
    .status(404)
    .type('html')
    .send(messagePage(viewer, 'Not found', what));
}

/** A form without this session's token (another site's form, or a page from before a new login): refused, nothing changed. */
export function csrfRefused(viewer: Viewer | undefined, res: Response): void {
  res
    .status(403)
    .type('html')
    .send(
      messagePage(
        viewer,
        'Form refused',
        'This form was not sent from a page of this session (it may be from before your last login). Reload the page and try again.',
      ),
    );
}

/** An upload form refused before its handler ran (too large, two files, unreadable): nothing was stored. */
export function uploadRefused(e: { status: number; message: string }, viewer: Viewer | undefined, res: Response): void {
  res
    .status(e.status)
    .type('html')
    .send(messagePage(viewer, 'Upload refused', e.message));
}

/** A form missing what it needs (no file chosen): nothing was stored. */
export function badFormPage(viewer: Viewer | undefined, res: Response, what: string): void {
  res
    .status(400)
    .type('html')
    .send(messagePage(viewer, 'Not accepted', what));
}
