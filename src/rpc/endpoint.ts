/**
 * One XML-RPC endpoint over a method table: the per-request scaffolding every XML-RPC dialect shares.
 * Auth runs before the body is read; the body is limited (HTTP 413 beyond MAX_BODY_BYTES) and decoded
 * (malformed XML is fault -32700); the call runs with its context; any error becomes a fault through the
 * dialect's spelling, and an unexpected one is logged and answered `internal error` without details.
 * The process never crashes on a request.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { AdapterDeps } from '../adapters/types.js';
import { callContext, requestIdOf } from '../adapters/auth.js';
import { RPC_FAULT, toFault, type FaultAnswer, type FaultSpelling } from './faults.js';
import type { Dispatcher } from './methods.js';
import { decodeMethodCall, encodeFault, encodeResponse, XmlRpcParseError } from './xmlrpc.js';

export function sendXml(res: Response, xml: string, status = 200) {
  res.status(status).type('text/xml; charset=utf-8').send(xml);
}

export interface XmlRpcEndpointOptions {
  /** For log lines. */
  name: string;
  deps: AdapterDeps;
  auth: RequestHandler;
  dispatcher: Dispatcher;
  spelling: FaultSpelling;
  /** The HTTP status of a fault's response when the fault names none (default 200). */
  httpStatus?: (methodName: string, fault: FaultAnswer) => number;
}

export function xmlRpcRouter(o: XmlRpcEndpointOptions): express.Router {
  const router = express.Router();
  const { logger } = o.deps;
  // Any Content-Type (clients send text/xml, some nothing at all); the limit applies after decompression.
  const body = express.raw({ type: () => true, limit: o.deps.config.MAX_BODY_BYTES });

  async function handle(req: Request, res: Response) {
    const call = callContext(res);
    let decoded: ReturnType<typeof decodeMethodCall>;
    try {
      decoded = decodeMethodCall(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    } catch (e) {
      if (!(e instanceof XmlRpcParseError)) logger.error({ err: e, requestId: call.requestId }, `${o.name}: decoder failure`);
      sendXml(res, encodeFault(RPC_FAULT.PARSE_ERROR, `parse error: ${e instanceof XmlRpcParseError ? e.message : 'not an XML-RPC call'}`));
      return;
    }
    try {
      sendXml(res, encodeResponse(await o.dispatcher.invoke({ call, deps: o.deps }, decoded.methodName, decoded.params)));
    } catch (e) {
      const f = toFault(e, o.spelling);
      if (f.internal) logger.error({ err: e, requestId: call.requestId, method: decoded.methodName }, `${o.name}: internal error`);
      sendXml(res, encodeFault(f.faultCode, f.faultString), f.httpStatus ?? o.httpStatus?.(decoded.methodName, f) ?? 200);
    }
  }

  router.post('/', o.auth, body, (req, res) => handle(req, res));
  router.all('/', (_req, res) => {
    res.set('Allow', 'POST').status(405).type('text/plain').send(`${o.name}: XML-RPC, POST only.\n`);
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (res.headersSent) return;
    if (status === 413) {
      res.status(413).type('text/plain').send(`Request body too large (limit ${o.deps.config.MAX_BODY_BYTES} bytes).\n`);
    } else if (status >= 400 && status < 500) {
      // Unreadable body (aborted, unsupported Content-Encoding...): still a protocol answer.
      res.status(status).type('text/plain').send('Bad request body.\n');
    } else {
      logger.error({ err, requestId: requestIdOf(res) }, `${o.name}: request failed`);
      sendXml(res, encodeFault(RPC_FAULT.INTERNAL, 'internal error'));
    }
  };
  router.use(onError);
  return router;
}
