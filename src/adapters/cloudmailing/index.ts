/**
 * CloudMailing dialect: XML-RPC on `POST /CloudMailing`, the original server's method table.
 *
 * Quirks of the protocol, kept for drop-in compatibility:
 * - Auth is HTTP Basic with the fixed login `admin` and the API key secret as password, checked before the
 *   body is read. No credentials: HTTP 401 with `WWW-Authenticate` and the original's fault body; wrong
 *   credentials: fault 401 'Authorization Failed!' in an HTTP 200 answer, as the original. Repeated
 *   failures from one address: 429.
 * - Faults carry the original's codes (404, 406, 403, 400), and some methods answer them with the HTTP status
 *   equal to the code (see errors.ts); protocol errors use the XML-RPC interoperability codes.
 * - Python's ServerProxy without allow_none: responses never carry `<nil/>`; null fields are left out.
 * - dateTime values carry no zone on the wire: a zone-less value is read as UTC, and dates are written in UTC
 *   (`YYYYMMDDTHH:MM:SS`), so a client should send UTC (the seed's `datetime.now()` is the client's local time).
 * - The seed's sender `my-mailing@%example.org`: the `%` after the `@` is dropped.
 * - Recipient ids are strings (the tracking id, a UUID unless the client gave `tracking_id`).
 * - `get_recipients_status_updated_since` takes a plain array as a list of statuses (the seed does), an
 *   unreadable cursor restarts the feed (a cursor saved from the original keeps working after the switch),
 *   and `IN PROGRESS` is a READY/WARNING recipient under a worker's lease, not a stored status.
 * - `scheduled_duration` is a deadline from the actual start (what is left ends TIMEOUT), never pacing;
 *   Mailgate's own `spread_minutes` spreads a mailing over time.
 * - Bodies over MAX_BODY_BYTES: HTTP 413. DOCTYPE/ENTITY declarations: fault -32700, nothing expanded.
 */
import type express from 'express';
import { basicAuth, tooManyFailures } from '../auth.js';
import type { AdapterDeps } from '../types.js';
import { sendXml, xmlRpcRouter } from '../../rpc/endpoint.js';
import { RPC_FAULT } from '../../rpc/faults.js';
import { dispatcher } from '../../rpc/methods.js';
import { encodeFault } from '../../rpc/xmlrpc.js';
import { AUTHORIZATION_FAILED, AUTHORIZATION_FAULT, httpStatusOf, spelling } from './errors.js';
import { METHODS } from './methods.js';

export { METHODS } from './methods.js';
export { spelling } from './errors.js';

export function cloudmailingRouter(deps: AdapterDeps): express.Router {
  const auth = basicAuth({
    core: deps.core,
    scheme: { kind: 'login', login: 'admin' },
    onFailure(outcome, _req, res) {
      switch (outcome.kind) {
        case 'limited':
          return tooManyFailures(res, outcome.retryAfter);
        case 'missing':
          res.set('WWW-Authenticate', 'Basic realm="CloudMailing"');
          return sendXml(res, encodeFault(AUTHORIZATION_FAULT, 'Authorization required!'), 401);
        case 'rejected':
          return sendXml(res, encodeFault(AUTHORIZATION_FAULT, AUTHORIZATION_FAILED));
        case 'unavailable':
          deps.logger.error({ err: outcome.error }, 'cloudmailing: authentication unavailable');
          return sendXml(res, encodeFault(RPC_FAULT.INTERNAL, 'internal error: service unavailable'));
      }
    },
  });
  return xmlRpcRouter({ name: 'cloudmailing', deps, auth, dispatcher: dispatcher(METHODS, spelling), spelling, httpStatus: httpStatusOf });
}
