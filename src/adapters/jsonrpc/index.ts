/**
 * JSON-RPC 2.0 on `POST /jsonrpc`: every CloudMailing method, same parameters and results, JSON types
 * (jayson runs the protocol: envelopes, batches, notifications, error objects).
 *
 * Quirks, as a JSON client of the CloudMailing table meets them:
 * - Auth as CloudMailing (HTTP Basic, login `admin`, the API key secret as password); a missing or wrong key
 *   is HTTP 401 with `WWW-Authenticate`, repeated failures 429.
 * - Parameters by position (as XML-RPC) or by name (the method's parameter names, `system.methodHelp` tells
 *   them). Dates go in as ISO 8601 strings (wherever CloudMailing takes a dateTime) and come back so;
 *   binary values (a mailing's `header`) come back as base64 strings.
 * - Errors are JSON-RPC error objects whose `code` is CloudMailing's fault code (404, 406, 403, 400) or the
 *   protocol's (-32700 unparsable JSON, -32600 not a request, -32601 unknown method, -32602 wrong params,
 *   -32603 internal, without details).
 * - Bodies over MAX_BODY_BYTES: HTTP 413.
 */
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import jayson from 'jayson';
import { METHODS, spelling } from '../cloudmailing/index.js';
import { basicAuth, callContext, requestIdOf, tooManyFailures } from '../auth.js';
import { RPC_FAULT, toFault } from '../../rpc/faults.js';
import { dispatcher, type MethodCtx } from '../../rpc/methods.js';
import { isStruct, type RpcValue } from '../../rpc/values.js';
import type { AdapterDeps } from '../types.js';

/** Results as JSON: dates as ISO strings, binaries as base64, absent members left out. */
function jsonOf(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(jsonOf);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) Object.defineProperty(out, k, { value: jsonOf(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

export function jsonRpcRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  const table = dispatcher(METHODS, spelling);

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
            const ctx = context as MethodCtx;
            let params: RpcValue[];
            if (Array.isArray(args)) params = args as RpcValue[];
            else if (isStruct(args)) {
              const names = table.paramNames(method) ?? [];
              params = names.map((n) => (Object.prototype.hasOwnProperty.call(args, n) ? (args[n] as RpcValue) : undefined)) as RpcValue[];
              while (params.length && params[params.length - 1] === undefined) params.pop();
              if (params.includes(undefined as unknown as RpcValue)) return done({ code: RPC_FAULT.INVALID_PARAMS, message: `${method}: a required parameter is missing` });
            } else params = [];
            table.invoke(ctx, method, params).then(
              (result) => done(null, jsonOf(result)),
              (e: unknown) => {
                const f = toFault(e, spelling);
                if (f.internal) deps.logger.error({ err: e, requestId: ctx.call.requestId, method }, 'jsonrpc: internal error');
                done({ code: f.faultCode, message: f.faultString });
              },
            );
          },
        }),
    },
  );

  const auth = basicAuth({
    core: deps.core,
    scheme: { kind: 'login', login: 'admin' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') {
        deps.logger.error({ err: outcome.error }, 'jsonrpc: authentication unavailable');
        return void res.status(503).json({ jsonrpc: '2.0', error: { code: RPC_FAULT.INTERNAL, message: 'service unavailable' }, id: null });
      }
      res.set('WWW-Authenticate', 'Basic realm="Mailgate JSON-RPC"').status(401).json({ jsonrpc: '2.0', error: { code: 401, message: 'Authorization Failed!' }, id: null });
    },
  });
  // Any Content-Type: the body is JSON-RPC or it is an error.
  const body = express.json({ type: () => true, limit: deps.config.MAX_BODY_BYTES, strict: false });

  router.post('/', auth, body, (req: Request, res: Response) => {
    const ctx: MethodCtx = { call: callContext(res), deps };
    server.call(req.body, ctx, (error, success) => {
      const response = error ?? success;
      if (response === undefined || (Array.isArray(response) && !response.length)) res.status(204).end();
      else res.status(200).json(response);
    });
  });
  router.all('/', (_req, res) => {
    res.set('Allow', 'POST').status(405).type('text/plain').send('JSON-RPC 2.0: POST only.\n');
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (res.headersSent) return;
    if (status === 413) res.status(413).type('text/plain').send(`Request body too large (limit ${deps.config.MAX_BODY_BYTES} bytes).\n`);
    else if (status >= 400 && status < 500) res.status(200).json({ jsonrpc: '2.0', error: { code: RPC_FAULT.PARSE_ERROR, message: 'parse error: the body is not JSON' }, id: null });
    else {
      deps.logger.error({ err, requestId: requestIdOf(res) }, 'jsonrpc: request failed');
      res.status(500).json({ jsonrpc: '2.0', error: { code: RPC_FAULT.INTERNAL, message: 'internal error' }, id: null });
    }
  };
  router.use(onError);
  return router;
}
