/**
 * Emailicious dialect: `/api/v1/...`, as Emailicious' API docs (the seed is its French "Envois" page) and its
 * official PHP client (emailicious-php 1.0.0) call it. Django REST Framework's behaviour throughout.
 *
 * - Auth: HTTP Basic; the API key's secret is the password, the user name (the real service's login, an
 *   e-mail address) is not needed. Failure: 401 `{"detail": "Invalid username/password."}` with
 *   `WWW-Authenticate: Basic realm="api"`. The account is the key's: another account's objects are 404.
 * - Bodies as JSON, form-urlencoded or multipart (values.ts): the PHP client's `variants[0].subject` and its
 *   file part `variants[0]layout.zip_file`, DRF's `variants[0]subject`, repeated keys for lists.
 * - Every answer has `Allow` and `Vary: Accept`; OPTIONS describes the resource (name, description,
 *   renders, parses, and `actions.POST` with each writable field); another method is 405.
 * - Lists of objects are pages `{count, next, previous, results}`: `?page=` (from 1), `?page_size=`
 *   (default 100, at most 1000); `next`/`previous` are the URL the client called with another page, so
 *   they keep its filters and start with its own base URL (the PHP client cuts its base off them).
 * - Subscribers: `subscription` is `active`, `pending`, `bounced`, `unsubscribed` or `deleted`; every other
 *   field (first_name, last_name, gender, date_of_birth, language, region and custom ones) is flat on the
 *   object. A POST of an address the list has (whatever its status) is 409 with that subscriber as body.
 *   PUT writes every field (those left out are emptied), PATCH the given ones; read-only fields in a body
 *   (the PHP client's `update()` sends the object back whole) are ignored.
 * - Mailings: the seed's create (variants, layouts, deliveries; see core/newsletters/service.ts for what
 *   a delivery sends to whom); `GET /mailings/<id>` adds each delivery's `id` (Mailkit's `ID_send`),
 *   `status` and `totals` (Mailgate additions).
 * - `GET /api/v1` lists the resources (DRF's API root).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { basicAuth, callContext, requestIdOf, tooManyFailures } from '../auth.js';
import { methodNotAllowed } from '../http-errors.js';
import { logUnavailable } from '../../core/errors.js';
import { authUnavailability, unavailability } from '../../core/errors.js';
import { answerJson, queryProblem } from '../body.js';
import type { AdapterDeps } from '../types.js';
import { UNAVAILABLE, emailiciousErrorOf } from './errors.js';
import { RESOURCES, type Method, type Resource } from './routes.js';
import { readBody } from './values.js';

export function emailiciousRouter(deps: AdapterDeps): express.Router {
  const { core } = deps;
  const router = express.Router();
  const limit = deps.config.MAX_BODY_BYTES;

  const auth = basicAuth({
    core,
    limiter: deps.authLimiter,
    scheme: { kind: 'secret-as-password' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') {
        const u = authUnavailability(outcome.error);
        logUnavailable(deps.logger, 'emailicious authentication', u, { err: outcome.error, requestId: requestIdOf(res) });
        const err = UNAVAILABLE(u);
        return answerJson(res, err.status, err.body);
      }
      answerJson(res.set('WWW-Authenticate', 'Basic realm="api"'), 401, {
        detail: outcome.kind === 'missing' ? 'Authentication credentials were not provided.' : 'Invalid username/password.',
      });
    },
  });
  router.use(auth);

  function resource(path: string, r: Resource): void {
    const methods = Object.keys(r.methods) as Method[];
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    router.all(path, async (req: Request, res: Response, next: NextFunction) => {
      res.set('Allow', allow).set('Vary', 'Accept');
      try {
        const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method | 'OPTIONS';
        if (method === 'OPTIONS') {
          const description = {
            name: r.name,
            description: r.description,
            renders: ['application/json'],
            parses: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
          };
          return answerJson(res, 200, r.post && r.methods.POST ? { ...description, actions: { POST: r.post } } : description);
        }
        const queryProblemText = queryProblem(req);
        if (queryProblemText) return answerJson(res, 400, { detail: `Query string parse error - ${queryProblemText}` });
        const handler = r.methods[method];
        if (!handler) return methodNotAllowed(res, allow, (answer) => answerJson(answer, 405, { detail: `Method "${req.method}" not allowed.` }));
        const a = await handler({ req, res, ctx: callContext(res), core, body: () => readBody(req, limit) });
        if (a.body === undefined) res.status(a.status ?? 204).end();
        else answerJson(res, a.status ?? 200, a.body);
      } catch (e) {
        const u = unavailability(e);
        if (u) logUnavailable(deps.logger, `emailicious ${req.method} ${path}`, u, { requestId: requestIdOf(res) });
        try {
          const err = emailiciousErrorOf(e, r.model);
          if (!res.headersSent) answerJson(res, err.status, err.body);
        } catch (other) {
          next(other);
        }
      }
    });
  }
  for (const [path, r] of Object.entries(RESOURCES)) resource(path, r);

  router.use((_req, res) => {
    answerJson(res.set('Vary', 'Accept'), 404, { detail: 'Not found.' });
  });
  return router;
}

/** The layouts' images, under PUBLIC_URL: `/layouts/<key>/images/<name>` (no auth: the key is unguessable). */
export function layoutImagesRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  router.get('/:key/images/:name', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const img = await deps.core.newsletters.layoutImage(String(req.params.key), `images/${String(req.params.name)}`);
      if (!img) return void res.status(404).type('text/plain').send('Not found.\n');
      res.set('Cache-Control', 'public, max-age=31536000, immutable').type(img.content_type).send(img.data);
    } catch (e) {
      next(e);
    }
  });
  return router;
}
