/**
 * CloudMailing dialect: XML-RPC on `POST /CloudMailing` (mounted by the HTTP app).
 *
 * Quirks of the protocol, kept for drop-in compatibility:
 * - Auth is HTTP Basic with the fixed login `admin` and the API key secret as password; a failure is HTTP 401
 *   with `WWW-Authenticate`, answered before the body is read (not a fault). Repeated failures: 429.
 * - Every call answers HTTP 200; errors are faults with the original server's HTTP-like codes (404, 406, 403,
 *   400), and the XML-RPC interoperability codes for protocol errors (-32700 malformed, -32601 unknown method,
 *   -32602 wrong params, -32603 internal).
 * - Python's ServerProxy without allow_none: responses never carry `<nil/>`; null fields are left out.
 * - dateTime values carry no zone on the wire: we read a zone-less value as UTC and write UTC
 *   (`YYYYMMDDTHH:MM:SS`), so a client should send UTC (the seed's `datetime.now()` is the client's local time).
 * - Recipient ids are strings (the tracking id, a UUID unless the client gave `tracking_id`).
 * - `get_recipients_status_updated_since` takes a plain array as a list of statuses (the seed does), and
 *   `IN PROGRESS` is a READY/WARNING recipient under a worker's lease, not a stored status.
 * - Bodies over MAX_BODY_BYTES: HTTP 413. DOCTYPE/ENTITY declarations: fault -32700, nothing expanded.
 */
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../../core/context.js';
import { requireBasicAuth, type Principal } from '../auth.js';
import type { AdapterDeps } from '../types.js';
import { decodeMethodCall, encodeFault, encodeResponse, XmlRpcParseError } from './codec.js';
import { FAULT, toFault } from './errors.js';
import { invoke } from './methods.js';

export { METHODS } from './methods.js';

function sendXml(res: Response, xml: string) {
  res.status(200).type('text/xml; charset=utf-8').send(xml);
}

function requestId(res: Response): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : randomUUID();
}

export function cloudmailingRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  const { logger } = deps;

  const auth = requireBasicAuth({
    core: deps.core,
    realm: 'CloudMailing',
    user: 'admin',
    onUnavailable(_req, res, err) {
      logger.error({ err, requestId: requestId(res) }, 'cloudmailing: authentication unavailable');
      sendXml(res, encodeFault(FAULT.INTERNAL, 'internal error: service unavailable'));
    },
  });
  // Any Content-Type (clients send text/xml, some nothing at all); the limit applies after decompression.
  const body = express.raw({ type: () => true, limit: deps.config.MAX_BODY_BYTES });

  async function handle(req: Request, res: Response) {
    const id = requestId(res);
    let call: ReturnType<typeof decodeMethodCall>;
    try {
      call = decodeMethodCall(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    } catch (e) {
      if (!(e instanceof XmlRpcParseError)) logger.error({ err: e, requestId: id }, 'cloudmailing: decoder failure');
      sendXml(res, encodeFault(FAULT.PARSE_ERROR, `parse error: ${e instanceof XmlRpcParseError ? e.message : 'not an XML-RPC call'}`));
      return;
    }
    const principal = res.locals.principal as Principal;
    const ctx: CallContext = { accountId: principal.accountId, keyId: principal.keyId, requestId: id };
    let xml: string;
    try {
      xml = encodeResponse(await invoke({ call: ctx, deps }, call.methodName, call.params));
    } catch (e) {
      const f = toFault(e);
      if (f.internal) logger.error({ err: e, requestId: id, method: call.methodName }, 'cloudmailing: internal error');
      xml = encodeFault(f.faultCode, f.faultString);
    }
    sendXml(res, xml);
  }

  router.post('/', auth, body, (req, res) => handle(req, res));
  router.all('/', (_req, res) => {
    res.set('Allow', 'POST').status(405).type('text/plain').send('CloudMailing XML-RPC: POST only.\n');
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (res.headersSent) return;
    if (status === 413) {
      res.status(413).type('text/plain').send(`Request body too large (limit ${deps.config.MAX_BODY_BYTES} bytes).\n`);
    } else if (status >= 400 && status < 500) {
      // Unreadable body (aborted, unsupported Content-Encoding...): still a protocol answer.
      res.status(status).type('text/plain').send('Bad request body.\n');
    } else {
      logger.error({ err, requestId: requestId(res) }, 'cloudmailing: request failed');
      sendXml(res, encodeFault(FAULT.INTERNAL, 'internal error'));
    }
  };
  router.use(onError);
  return router;
}
