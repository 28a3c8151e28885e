/**
 * The capture outbox (no SMTP_URL): what the gateway would have sent, readable by an account's key
 * (HTTP Basic, any user name, the key's secret as password), each account seeing the mail of its own mailings.
 * The full admin pages come later; this keeps captured mail viewable from day one.
 */
import express from 'express';
import { capturedRepo } from '../db/captured.js';
import type { HttpDeps } from './app.js';
import { escapeHtml } from '../core/delivery/template.js';
import { basicAuth, tooManyFailures, type Principal } from '../adapters/auth.js';

export function outboxRouter(deps: HttpDeps): express.Router {
  const router = express.Router();
  const repo = capturedRepo(deps.pool);
  router.use(
    basicAuth({
      core: deps.core,
      limiter: deps.authLimiter,
      scheme: { kind: 'secret-as-password' },
      onFailure(outcome, _req, res) {
        if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
        if (outcome.kind === 'unavailable') return void res.status(503).type('text/plain').send('Database unavailable.');
        res.set('WWW-Authenticate', 'Basic realm="Mailgate outbox"').status(401).type('text/plain').send('Authorization failed.\n');
      },
    }),
  );
  const accountOf = (res: express.Response) => (res.locals.principal as Principal).accountId;
  router.get('/', async (req, res) => {
    const before = Number(req.query.before) || undefined;
    const rows = await repo.list(accountOf(res), 100, before);
    const total = await repo.count(accountOf(res));
    const items = rows
      .map(
        (r) =>
          `<tr><td><a href="outbox/${r.id}">${r.id}</a></td><td>${r.received_at.toISOString()}</td><td>${escapeHtml(r.envelope_to.join(', '))}</td><td>${escapeHtml(r.subject ?? '')}</td></tr>`,
      )
      .join('');
    const more = rows.length === 100 ? `<p><a href="?before=${rows[rows.length - 1]!.id}">older</a></p>` : '';
    res.type('html').send(
      `<!doctype html><meta charset="utf-8"><title>Mailgate outbox</title><h1>Outbox (SMTP capture)</h1><p>${total} messages kept; nothing was relayed.</p><table><tr><th>#</th><th>received</th><th>to</th><th>subject</th></tr>${items}</table>${more}`,
    );
  });
  router.get('/:id', async (req, res) => {
    const raw = await repo.raw(accountOf(res), Number(req.params.id) || 0);
    if (!raw) {
      res.status(404).type('text/plain').send('No such message.');
      return;
    }
    res.type('message/rfc822').set('Content-Disposition', `inline; filename="${Number(req.params.id)}.eml"`).send(raw);
  });
  return router;
}
