/**
 * Public recipient links under PUBLIC_URL: `/u/<token>`, the unsubscribe link of every message, and
 * `/subscribe/confirm/<token>`, the double opt-in link (src/core/subscriptions/service.ts).
 *
 * Quirks: RFC 8058 one-click is a POST with the form body `List-Unsubscribe=One-Click`, sent by the mailbox
 * provider without cookies or JavaScript; it must act at once and needs no confirmation. A GET (a person
 * clicking) only shows a page with a button (mail scanners follow GET links: they must not unsubscribe anyone).
 */
import express from 'express';
import { isDomainError } from '../../core/errors.js';
import { escapeHtml } from '../../core/delivery/template.js';
import type { AdapterDeps } from '../types.js';

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>` +
  `<body style="font-family:sans-serif;max-width:36em;margin:3em auto"><h1>${title}</h1>${body}</body></html>`;

export function trackingRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const invalid = (res: express.Response) => res.status(404).type('html').send(page('Link not valid', '<p>This unsubscribe link is not valid.</p>'));

  router.get('/u/:token', async (req, res, next) => {
    try {
      const email = await deps.core.unsubscribe.address(req.params.token);
      res.type('html').send(
        page('Unsubscribe', `<p>Stop these mailings to <b>${escapeHtml(email)}</b>?</p><form method="post"><button type="submit" name="confirm" value="1">Unsubscribe</button></form>`),
      );
    } catch (e) {
      if (isDomainError(e) && e.code === 'NOT_FOUND') invalid(res);
      else next(e);
    }
  });

  router.post('/u/:token', form, async (req, res, next) => {
    try {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const oneClick = body['List-Unsubscribe'] === 'One-Click';
      await deps.core.unsubscribe.unsubscribe(req.params.token, oneClick ? 'one-click' : 'page');
      res.type('html').send(page('Unsubscribed', '<p>You will not receive these mailings any more.</p>'));
    } catch (e) {
      if (isDomainError(e) && e.code === 'NOT_FOUND') invalid(res);
      else next(e);
    }
  });
  // The double opt-in link ({{ subscribe_link }}): a GET confirms (once); HEAD, which link checkers send, does not.
  router.head('/subscribe/confirm/:token', (_req, res) => {
    res.status(200).type('html').end();
  });
  router.get('/subscribe/confirm/:token', async (req, res, next) => {
    try {
      const r = await deps.core.subscriptions.confirm(req.params.token);
      const what = `<b>${escapeHtml(r.email)}</b> will receive <b>${escapeHtml(r.list)}</b>.`;
      res.type('html').send(r.state === 'confirmed' ? page('Subscription confirmed', `<p>Thank you: ${what}</p>`) : page('Already confirmed', `<p>This subscription was already confirmed: ${what}</p>`));
    } catch (e) {
      if (isDomainError(e) && e.code === 'NOT_FOUND') res.status(404).type('html').send(page('Link not valid', `<p>${escapeHtml(e.message[0]!.toUpperCase() + e.message.slice(1))}.</p>`));
      else next(e);
    }
  });
  return router;
}
