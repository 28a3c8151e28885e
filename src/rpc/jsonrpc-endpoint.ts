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
import { logUnavailable } from '../core/errors.js';
import { RPC_FAULT, toFault } from './faults.js';
import type { Dispatcher, MethodCtx } from './methods.js';
import { nameCall } from './call-name.js';
import { isStruct, type RpcValue } from './values.js';
import { inputProblem, MAX_DEPTH } from '../core/input.js';
import type { IncomingMessage } from 'node:http';

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
  /** body-parser's `verify` of the raw bytes (the dialect's input rules: UTF-8); its error goes to the dialect. */
  verifyBody?: (req: IncomingMessage, res: unknown, buf: Buffer) => void;
}

/** The body reader and the call handler, to mount after the dialect's auth. */
export function jsonRpcEndpoint<D>(o: JsonRpcEndpointOptions<D>): RequestHandler[] {
  const table = o.dispatcher;

  const server = new jayson.Server(
    {},
    {
      useContext: true,
      maxBatchLength: MAX_BATCH,
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
                if (f.unavailable) logUnavailable(o.logger, `${o.name} ${method}`, f.unavailable, { requestId: ctx.call.requestId });
                done({ code: f.faultCode, message: f.faultString });
              },
            );
          },
        }),
    },
  );

  // Any Content-Type: the body is JSON-RPC or it is an error. Bytes that are not UTF-8 are a parse error.
  const body = express.json({ type: () => true, limit: o.maxBodyBytes, strict: false, ...(o.verifyBody ? { verify: o.verifyBody } : {}) });

  /** One request's answer (undefined for a notification), jayson running the protocol. */
  const answerOne = (request: unknown, ctx: MethodCtx<D>): Promise<JsonRpcAnswer | undefined> => {
    const refused = refusal(request);
    if (refused !== null) return Promise.resolve(refused);
    return new Promise((resolve) =>
      server.call(request as JSONRPCRequestLike, ctx, (error, success) => resolve((error ?? success) as JsonRpcAnswer | undefined)),
    );
  };

  const handle = (req: Request, res: Response) => {
    const reply = (response: unknown) => {
      if (response === undefined || (Array.isArray(response) && !response.length)) res.status(204).end();
      // A single call the database could not serve is a 503, as the dialect's auth answers it; in a batch,
      // only its own item says so.
      else sendJson(res, response, (response as JsonRpcAnswer).error?.code === table.spelling.unavailable ? 503 : 200);
    };
    const ctx = o.context(res);
    const request: unknown = req.body;
    const method = isStruct(request) ? (request as Record<string, unknown>).method : undefined;
    nameCall(res, Array.isArray(request) ? 'batch' : typeof method === 'string' && table.paramNames(method) ? method : 'unknown');
    if (!Array.isArray(request)) return void answerOne(request, ctx).then(reply);
    // An empty batch, or one over maxBatchLength, is one error: jayson answers it.
    if (!request.length || request.length > MAX_BATCH)
      return void server.call(request as JSONRPCRequestLike[], ctx, (error, success) => reply(error ?? success));
    // Each item on its own, so that every one gets its slot (jayson's own batch loses the slot of a nested
    // array and never answers); notifications leave theirs empty.
    void Promise.all(request.map((item) => answerOne(item, ctx))).then((answers) => reply(answers.filter((a) => a !== undefined)));
  };
  return [body, handle];
}

/**
 * A JSON-RPC answer, written as it is (Content-Length from Node). Not through express's res.json, which hashes
 * every body into an ETag: no JSON-RPC call is a GET, the only kind of request that can revalidate one.
 */
export function sendJson(res: Response, value: unknown, status = 200): void {
  res.status(status).type('application/json; charset=utf-8').end(JSON.stringify(value));
}

type JsonRpcAnswer = { jsonrpc: '2.0'; id: string | number | null; error?: { code: number; message: string }; result?: unknown };

const MAX_BATCH = 1000;

const errorAnswer = (id: unknown, code: number, message: string): JsonRpcAnswer => ({
  jsonrpc: '2.0',
  error: { code, message },
  id: typeof id === 'string' || typeof id === 'number' ? id : null,
});

/**
 * The answer to a request refused before it runs, or null to run it. Batch items that are arrays (a nested
 * batch is never executed) or not objects are -32600 for that item (jayson answers the other shapes it
 * refuses itself); a request beyond the input rules (core/input.ts: nesting, lone surrogates) is -32602 when
 * the fault is in its params, else -32600.
 */
function refusal(request: unknown): JsonRpcAnswer | undefined | null {
  if (Array.isArray(request)) return errorAnswer(null, RPC_FAULT.INVALID_REQUEST, 'invalid request: a batch inside a batch is not executed');
  if (!isStruct(request)) return null;
  const { params, ...envelope } = request as Record<string, unknown>;
  const id = envelope.id;
  const envelopeProblem = inputProblem(envelope, MAX_DEPTH);
  if (envelopeProblem) return errorAnswer(id, RPC_FAULT.INVALID_REQUEST, `invalid request: ${envelopeProblem}`);
  // The params array or object is XML-RPC's <params>: its own level is not counted.
  const paramsProblem = inputProblem(params, MAX_DEPTH + 1);
  if (!paramsProblem) return null;
  // A notification gets no answer, even to its error (JSON-RPC 2.0, section 4.1).
  if (id === undefined || id === null) return undefined;
  return errorAnswer(id, RPC_FAULT.INVALID_PARAMS, `invalid params: ${paramsProblem}`);
}
