/**
 * JSON-RPC 2.0 over a method table: a second encoding of a table an XML-RPC dialect serves, same methods,
 * parameters and results, JSON types (jayson runs the protocol: envelopes, batches, notifications, error
 * objects). Parameters come by position (as XML-RPC) or by name (the method's parameter names). Results are
 * written as JSON: dates as ISO strings, binaries as base64, absent members left out. Errors are error
 * objects whose `code` is the dialect's fault code or the protocol's; an unexpected error is logged and
 * answered -32603 without details.
 *
 * The dialect mounts the handlers after its auth, and answers other methods and unreadable or oversized
 * bodies itself.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import jayson, { type JSONRPCRequestLike } from 'jayson';
import type { Logger } from '../logger.js';
import { RPC_FAULT, toFault } from './faults.js';
import type { Dispatcher, MethodCtx } from './methods.js';
import { isStruct, type RpcValue } from './values.js';

/** Results as JSON: dates as ISO strings, binaries as base64, absent members left out. */
function jsonOf(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(jsonOf);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v))
      if (x !== undefined) Object.defineProperty(out, k, { value: jsonOf(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

export interface JsonRpcEndpointOptions<D> {
  /** For log lines. */
  name: string;
  logger: Logger;
  maxBodyBytes: number;
  dispatcher: Dispatcher<D>;
  /** The method context of an authenticated request. */
  context(res: Response): MethodCtx<D>;
}

/** The body reader and the call handler, to mount after the dialect's auth. */
export function jsonRpcEndpoint<D>(o: JsonRpcEndpointOptions<D>): RequestHandler[] {
  const table = o.dispatcher;

  const server = new jayson.Server(
    {},
    {
      useContext: true,
      maxBatchLength: 1000,
      // Every name reaches our dispatcher, which answers -32601 for unknown ones.
      router: (method) =>
        new jayson.Method({
          useContext: true,
          handler: (args: unknown, context: object, done: (err?: { code: number; message: string } | null, result?: unknown) => void) => {
            const ctx = context as MethodCtx<D>;
            let params: RpcValue[];
            if (Array.isArray(args)) params = args as RpcValue[];
            else if (isStruct(args)) {
              const names = table.paramNames(method) ?? [];
              params = names.map((n) => (Object.prototype.hasOwnProperty.call(args, n) ? (args[n] as RpcValue) : undefined)) as RpcValue[];
              while (params.length && params[params.length - 1] === undefined) params.pop();
              if (params.includes(undefined as unknown as RpcValue))
                return done({ code: RPC_FAULT.INVALID_PARAMS, message: `${method}: a required parameter is missing` });
            } else params = [];
            table.invoke(ctx, method, params).then(
              (result) => done(null, jsonOf(result)),
              (e: unknown) => {
                const f = toFault(e, table.spelling);
                if (f.internal) o.logger.error({ err: e, requestId: ctx.call.requestId, method }, `${o.name}: internal error`);
                done({ code: f.faultCode, message: f.faultString });
              },
            );
          },
        }),
    },
  );

  // Any Content-Type: the body is JSON-RPC or it is an error.
  const body = express.json({ type: () => true, limit: o.maxBodyBytes, strict: false });

  const handle = (req: Request, res: Response) => {
    // Whatever JSON the body holds: jayson itself checks that it is a request or a batch of them.
    const request = req.body as JSONRPCRequestLike | JSONRPCRequestLike[];
    server.call(request, o.context(res), (error, success) => {
      const response = error ?? success;
      if (response === undefined || (Array.isArray(response) && !response.length)) res.status(204).end();
      else res.status(200).json(response);
    });
  };
  return [body, handle];
}
