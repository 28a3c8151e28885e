/**
 * Yandex Sender dialect: `/api/0/<account>/...`, as Sender's API pages (the seed is its maillist page) and its
 * real clients (Yandex Pay's AbstractSenderClient, and the others listed in ../shared/spec/rest.md) call it.
 *
 * Quirks kept for drop-in compatibility:
 * - Auth: HTTP Basic, the key's secret as the user name and an empty password. The key must belong to the
 *   account of the URL (else 403). Missing credentials and a wrong key: 401.
 * - Every parameter is read from the query string and from the body (form or JSON, on every method, DELETE
 *   included), the body winning; a form's complex fields (`params`, `items`, `args`) are JSON strings, and
 *   so may they be in a JSON body. A bare JSON array body is the `items` of a bulk call.
 * - `params` are echoed back as they came (a JSON string stays a string). Bulk calls answer without `params`.
 * - `result.status` is "OK"; real clients compare it case-insensitively.
 * - Unsubscribe answers say `"status": "ok"` in lower case and answer errors as DRF's bare `{"detail": ...}`,
 *   as the unsubscribe page shows. `unsubscribe/global` is the account's own unsubscription (the account is
 *   the "group"); `unsubscribe/info` names each list `{"ru": name, "en": name}`.
 * Mailgate additions: `PUT/GET/DELETE .../maillist/<slug>` (create with `title`, read, delete a list) and
 * `GET .../tasks/<task_id>` (a bulk task's `state`: PENDING, STARTED, SUCCESS or FAILURE, and its counts).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { basicAuth, callContext, requestIdOf, tooManyFailures, type Principal } from '../auth.js';
import { requestErrors } from '../http-errors.js';
import { logUnavailable } from '../../core/errors.js';
import { authUnavailability, unavailability } from '../../core/errors.js';
import { answerJson, queryAndBody } from '../body.js';
import type { AdapterDeps } from '../types.js';
import { BAD_KEY, FORBIDDEN, NOT_AUTHENTICATED, SenderError, UNAVAILABLE, senderErrorOf } from './errors.js';
import { ROUTES, type Call, type Answer } from './routes.js';
import { paramsOf } from './values.js';

function send(res: Response, e: SenderError): void {
  answerJson(res, e.status, e.body);
}

export function senderRouter(deps: AdapterDeps): express.Router {
  const { core } = deps;
  const router = express.Router();
  const limit = deps.config.MAX_BODY_BYTES;

  const auth = basicAuth({
    core,
    limiter: deps.authLimiter,
    scheme: { kind: 'secret-as-user' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') {
        const u = authUnavailability(outcome.error);
        logUnavailable(deps.logger, 'sender authentication', u, { err: outcome.error, requestId: requestIdOf(res) });
        return send(res, UNAVAILABLE(u));
      }
      res.set('WWW-Authenticate', 'Basic realm="api"');
      send(res, outcome.kind === 'missing' ? NOT_AUTHENTICATED() : BAD_KEY());
    },
  });
  // The key, then its account against the URL's, as one layer.
  router.use('/:account', (req: Request, res: Response, next: NextFunction) =>
    auth(req, res, () => {
      if ((res.locals.principal as Principal).account !== req.params.account) return send(res, FORBIDDEN());
      next();
    }),
  );
  router.use(queryAndBody({ jsonType: ['application/json', 'application/*+json'], limit, parameterLimit: 10_000 }));

  const handle =
    (fn: (c: Call) => Promise<Answer>) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      try {
        const a = await fn({ req, ctx: callContext(res), p: paramsOf(req.query, req.body), core });
        answerJson(res, a.status ?? 200, a.body);
      } catch (e) {
        const u = unavailability(e);
        if (u) logUnavailable(deps.logger, `sender ${req.method} ${req.baseUrl}${req.path}`, u, { requestId: requestIdOf(res) });
        try {
          send(res, senderErrorOf(e));
        } catch (other) {
          next(other);
        }
      }
    };
  for (const [method, path, fn] of ROUTES) router[method](path, handle(fn));

  router.use((_req: Request, res: Response) => {
    send(res, SenderError.detail(404, 'Not found.'));
  });
  router.use(
    requestErrors({
      name: 'sender',
      logger: deps.logger,
      tooLarge: (res) => send(res, SenderError.detail(413, `Request body too large (limit ${limit} bytes).`)),
      unreadable(res, status, err) {
        const e = err as { type?: string; message?: string };
        if (e.type === 'entity.parse.failed') return send(res, SenderError.detail(400, `JSON parse error - ${e.message ?? 'malformed JSON'}`));
        send(res, SenderError.detail(status, e.message ?? 'Bad request.'));
      },
      internal: (res) => answerJson(res, 500, { result: { status: 'ERROR', message: 'Internal error' } }),
    }),
  );
  return router;
}
