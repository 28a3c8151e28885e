/**
 * CloudMailing dialect: the original server's method table (methods.ts) in two encodings, XML-RPC on
 * `POST /CloudMailing` as the original speaks it, and JSON-RPC 2.0 on `POST /jsonrpc` (a Mailgate addition:
 * every method, same parameters and results, JSON types).
 *
 * Quirks of the protocol, kept for drop-in compatibility:
 * - Auth is HTTP Basic with the fixed login `admin` and the API key secret as password, checked before the
 *   body is read. No credentials: HTTP 401 with `WWW-Authenticate` and the original's fault body; wrong
 *   credentials: fault 401 'Authorization Failed!' in an HTTP 200 answer, as the original. Repeated
 *   failures from one address: 429.
 * - Faults carry the original's codes (404, 406, 403, 400; 503 when the database cannot serve: disk full,
 *   restarting), and some methods answer them with the HTTP status equal to the code (see errors.ts); protocol
 *   errors use the XML-RPC interoperability codes.
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
 *
 * The JSON-RPC encoding, as a JSON client of the table meets it:
 * - Auth as above; a missing or wrong key is HTTP 401 with `WWW-Authenticate` and a JSON-RPC error object,
 *   repeated failures 429.
 * - Parameters by position (as XML-RPC) or by name (the method's parameter names, `system.methodHelp` tells
 *   them). Dates go in as ISO 8601 strings (wherever CloudMailing takes a dateTime) and come back so;
 *   binary values (a mailing's `header`) come back as base64 strings.
 * - Errors are JSON-RPC error objects whose `code` is CloudMailing's fault code (404, 406, 403, 400; 503, with
 *   HTTP 503, when the database cannot serve) or the protocol's (-32700 unparsable JSON, -32600 not a request, -32601 unknown method, -32602 wrong params,
 *   -32603 internal, without details).
 * - Bodies over MAX_BODY_BYTES: HTTP 413.
 */
import express, { type Response } from 'express';
import { basicAuth, callContext, tooManyFailures } from '../auth.js';
import { plainTooLarge, postOnly, requestErrors } from '../http-errors.js';
import { logUnavailable } from '../../core/errors.js';
import { authUnavailability } from '../../core/errors.js';
import type { AdapterDeps } from '../types.js';
import { jsonRpcEndpoint, sendJson } from '../../rpc/jsonrpc-endpoint.js';
import { isBadInput, verifyUtf8 } from '../body.js';
import { RPC_FAULT, unavailableFaultString } from '../../rpc/faults.js';
import { dispatcher, type MethodCtx } from '../../rpc/methods.js';
import { sendXml, xmlRpcEndpoint } from '../../rpc/xmlrpc-endpoint.js';
import { encodeFault } from '../../rpc/xmlrpc.js';
import { AUTHORIZATION_FAILED, AUTHORIZATION_FAULT, UNAVAILABLE_FAULT, httpStatusOf, spelling } from './errors.js';
import { METHODS } from './methods.js';

const jsonRpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

export function cloudmailingRouters(deps: AdapterDeps): { xmlRpc: express.Router; jsonRpc: express.Router } {
  const { logger } = deps;
  const limit = deps.config.MAX_BODY_BYTES;
  const common = {
    logger,
    maxBodyBytes: limit,
    dispatcher: dispatcher(METHODS, { spelling, logger }),
    context: (res: Response): MethodCtx<AdapterDeps> => ({ call: callContext(res), deps }),
  };

  const xmlAuth = basicAuth({
    core: deps.core,
    limiter: deps.authLimiter,
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
        case 'unavailable': {
          const u = authUnavailability(outcome.error);
          logUnavailable(logger, 'cloudmailing authentication', u, { err: outcome.error });
          return sendXml(res, encodeFault(UNAVAILABLE_FAULT, unavailableFaultString(u)));
        }
      }
    },
  });
  const xmlRpc = express.Router();
  xmlRpc.post('/', xmlAuth, ...xmlRpcEndpoint({ name: 'cloudmailing', ...common, httpStatus: httpStatusOf }));
  xmlRpc.all('/', postOnly('cloudmailing: XML-RPC, POST only.\n'));
  xmlRpc.use(
    requestErrors({
      name: 'cloudmailing',
      logger,
      tooLarge: plainTooLarge(limit),
      // Unreadable body (aborted, unsupported Content-Encoding...): still a protocol answer.
      unreadable: (res, status) => void res.status(status).type('text/plain').send('Bad request body.\n'),
      internal: (res) => sendXml(res, encodeFault(RPC_FAULT.INTERNAL, 'internal error')),
    }),
  );

  const jsonAuth = basicAuth({
    core: deps.core,
    limiter: deps.authLimiter,
    scheme: { kind: 'login', login: 'admin' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') {
        const u = authUnavailability(outcome.error);
        logUnavailable(logger, 'jsonrpc authentication', u, { err: outcome.error });
        return sendJson(res, jsonRpcError(UNAVAILABLE_FAULT, unavailableFaultString(u)), 503);
      }
      sendJson(res.set('WWW-Authenticate', 'Basic realm="Mailgate JSON-RPC"'), jsonRpcError(AUTHORIZATION_FAULT, AUTHORIZATION_FAILED), 401);
    },
  });
  const jsonRpc = express.Router();
  jsonRpc.post('/', jsonAuth, ...jsonRpcEndpoint({ name: 'jsonrpc', ...common, verifyBody: verifyUtf8 }));
  jsonRpc.all('/', postOnly('JSON-RPC 2.0: POST only.\n'));
  jsonRpc.use(
    requestErrors({
      name: 'jsonrpc',
      logger,
      tooLarge: plainTooLarge(limit),
      unreadable: (res, _status, err) =>
        sendJson(res, jsonRpcError(RPC_FAULT.PARSE_ERROR, `parse error: ${isBadInput(err) ? err.message : 'the body is not JSON'}`)),
      internal: (res) => sendJson(res, jsonRpcError(RPC_FAULT.INTERNAL, 'internal error'), 500),
    }),
  );

  return { xmlRpc, jsonRpc };
}
