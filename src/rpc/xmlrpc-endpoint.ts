/**
 * One XML-RPC endpoint over a method table: the per-request work every XML-RPC dialect shares. The body is
 * read whatever its Content-Type (clients send text/xml, some nothing at all), limited to `maxBodyBytes`
 * after decompression, and decoded (malformed XML is fault -32700); the call runs with its context; any
 * error becomes a fault through the dialect's spelling, and an unexpected one is logged and answered
 * `internal error` without details. The process never crashes on a request.
 *
 * The dialect mounts the handlers after its auth (which runs before the body is read), and answers other
 * methods and unreadable or oversized bodies itself.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../logger.js';
import { logUnavailable } from '../core/errors.js';
import { RPC_FAULT, toFault, type FaultAnswer } from './faults.js';
import type { Dispatcher, MethodCtx } from './methods.js';
import { nameCall } from './call-name.js';
import { decodeMethodCall, encodeFault, encodeResponse, XmlRpcParseError } from './xmlrpc.js';

/**
 * An XML-RPC answer, written as it is (Content-Length from Node). Not through express's res.send, which hashes
 * every body into an ETag: only a GET can be revalidated with one, no XML-RPC call is a GET, and the sha1 of
 * an add_recipients answer was several percent of the call's CPU. The original server sends no ETag either.
 */
export function sendXml(res: Response, xml: string, status = 200) {
  // The header set as is: express's type() looks the value up in its MIME table at every answer.
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/xml; charset=utf-8');
  res.end(xml);
}

export interface XmlRpcEndpointOptions<D> {
  /** For log lines. */
  name: string;
  logger: Logger;
  maxBodyBytes: number;
  dispatcher: Dispatcher<D>;
  /** The method context of an authenticated request. */
  context(res: Response): MethodCtx<D>;
  /** The HTTP status of a fault's response when the fault names none (default 200). */
  httpStatus?: (methodName: string, fault: FaultAnswer) => number;
}

/** The body reader and the call handler, to mount after the dialect's auth. */
export function xmlRpcEndpoint<D>(o: XmlRpcEndpointOptions<D>): RequestHandler[] {
  const { logger } = o;
  const body = express.raw({ type: () => true, limit: o.maxBodyBytes });

  async function handle(req: Request, res: Response) {
    const ctx = o.context(res);
    let decoded: ReturnType<typeof decodeMethodCall>;
    try {
      decoded = decodeMethodCall(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    } catch (e) {
      if (!(e instanceof XmlRpcParseError)) logger.error({ err: e, requestId: ctx.call.requestId }, `${o.name}: decoder failure`);
      sendXml(res, encodeFault(RPC_FAULT.PARSE_ERROR, `parse error: ${e instanceof XmlRpcParseError ? e.message : 'not an XML-RPC call'}`));
      return;
    }
    nameCall(res, o.dispatcher.paramNames(decoded.methodName) ? decoded.methodName : 'unknown');
    try {
      sendXml(res, encodeResponse(await o.dispatcher.invoke(ctx, decoded.methodName, decoded.params)));
    } catch (e) {
      const f = toFault(e, o.dispatcher.spelling);
      if (f.internal) logger.error({ err: e, requestId: ctx.call.requestId, method: decoded.methodName }, `${o.name}: internal error`);
      if (f.unavailable) logUnavailable(logger, `${o.name} ${decoded.methodName}`, f.unavailable, { requestId: ctx.call.requestId });
      sendXml(res, encodeFault(f.faultCode, f.faultString), f.httpStatus ?? o.httpStatus?.(decoded.methodName, f) ?? 200);
    }
  }

  return [body, (req, res) => handle(req, res)];
}
