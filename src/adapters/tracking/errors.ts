/**
 * The public links' errors: a token the core does not know (NOT_FOUND) is a 404 page for a person; anything
 * else goes on to the app's error handler. A tracked link's bad token is a 404 page too, found without the core.
 */
import type { Response } from 'express';
import { escapeHtml } from '../../core/delivery/template.js';
import { isDomainError } from '../../core/errors.js';
import { noCache, page } from './serializers.js';

/** A pixel whose token is not genuine, a tracked link whose token was not signed for its `u`: no GIF, no redirect. */
export function invalidTrackingLink(res: Response): void {
  noCache(res);
  res.status(404).type('html').send(page('Link not valid', '<p>This link is not valid.</p>'));
}

/** The unsubscribe link's 404. */
export function invalidUnsubscribeLink(res: Response, e: unknown): void {
  if (!(isDomainError(e) && e.code === 'NOT_FOUND')) throw e;
  res.status(404).type('html').send(page('Link not valid', '<p>This unsubscribe link is not valid.</p>'));
}

/** The confirmation link's 404, saying why (not valid, or expired). */
export function invalidConfirmationLink(res: Response, e: unknown): void {
  if (!(isDomainError(e) && e.code === 'NOT_FOUND')) throw e;
  res
    .status(404)
    .type('html')
    .send(page('Link not valid', `<p>${escapeHtml(e.message[0]!.toUpperCase() + e.message.slice(1))}.</p>`));
}
