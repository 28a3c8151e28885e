/**
 * Mailkit dialect: one function table, two encodings, as real Mailkit clients call them.
 *
 * Quirks of the protocol, kept for drop-in compatibility:
 * - `POST /json.fcgi`: `{"function": "...", "id": "<client_id>", "md5": "<client_md5>", "parameters": {...}}`;
 *   some clients put a function's parameters at the top level instead (Mailkit's own campaigns.list example
 *   does): both are read. Numbers arrive as strings or numbers.
 * - `POST /rpc.fcgi`: XML-RPC whose methodName is the function and whose params are positional: client_id
 *   (a `<string>` from PHP clients, an untyped `<value>` from Java ones, or an `<int>`), client_md5, then the
 *   function's own in the documented order.
 * - Credentials are in the call: client_id is the API key's id, client_md5 its secret. Wrong ones: the error
 *   `Unauthorized`. Repeated failures from one address: HTTP 429, as every dialect.
 * - Errors are not faults: JSON answers `{"error_status": 1, "error": "<text>"}` in an HTTP 200; XML-RPC a normal
 *   methodResponse whose value is the plain text (see errors.ts). A database that cannot serve (disk full,
 *   restarting) is such an error too: `Service unavailable: <why>; try again later`. Malformed JSON or XML is
 *   answered the same way.
 * - Some successes are a bare string too, in XML-RPC: edituser's `OK`, revalidate's `Email has been revalidated`
 *   / `Sent subscribe email` (JSON carries them as `error` with error_status 0). A client tells them from an
 *   error by the text.
 * - XML-RPC integers are `<i4>` (`<i8>` beyond 32 bits), as the seed shows; report records in JSON carry strings
 *   (message.links' counts are JSON numbers, as its documented reply has them).
 * - Bodies over MAX_BODY_BYTES: HTTP 413.
 */
import express, { type Request, type Response } from 'express';
import { authenticator, remoteAddress, requestIdOf, tooManyFailures, type Credentials } from '../auth.js';
import { plainTooLarge, postOnly, requestErrors } from '../http-errors.js';
import { logUnavailable } from '../../core/errors.js';
import { authUnavailability } from '../../core/errors.js';
import type { AdapterDeps } from '../types.js';
import { isBadInput, jsonBody } from '../body.js';
import { isStruct, type RpcValue } from '../../rpc/values.js';
import { nameCall } from '../../rpc/call-name.js';
import { decodeMethodCall, encodeResponse, XmlRpcParseError } from '../../rpc/xmlrpc.js';
import { INTERNAL, MailkitError, UNAUTHORIZED, UNKNOWN_FUNCTION, errorText, unavailableText } from './errors.js';
import { FUNCTIONS, type MailkitArgs } from './methods.js';
import type { Encoding } from './serializers.js';

interface DecodedCall {
  fn: string;
  creds: Credentials | undefined;
  args: MailkitArgs;
}

const ENVELOPE_KEYS = new Set(['function', 'id', 'md5', 'parameters']);

function keyIdOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function credentials(id: unknown, md5: unknown): Credentials | undefined {
  if (typeof md5 !== 'string' || !md5) return undefined;
  const keyId = keyIdOf(id);
  // A client_id that is no id at all never matches a key.
  return { secret: md5, keyId: keyId ?? -1 };
}

function fromJson(body: unknown): DecodedCall {
  if (!isStruct(body)) throw new MailkitError('Invalid request: a JSON object is expected');
  const b = body as Record<string, unknown>;
  if (typeof b.function !== 'string') throw new MailkitError('Missing function');
  // No prototype: a `__proto__` member is a parameter like any other, never the object's prototype (through
  // which every absent parameter would be read).
  const args = Object.create(null) as MailkitArgs;
  for (const [k, v] of Object.entries(b)) if (!ENVELOPE_KEYS.has(k)) args[k] = v as RpcValue;
  if (isStruct(b.parameters)) Object.assign(args, b.parameters);
  const spec = Object.prototype.hasOwnProperty.call(FUNCTIONS, b.function) ? FUNCTIONS[b.function] : undefined;
  for (const [alias, name] of Object.entries(spec?.aliases ?? {})) if (args[name] === undefined && args[alias] !== undefined) args[name] = args[alias];
  return { fn: b.function, creds: credentials(b.id, b.md5), args };
}

function fromXml(body: Buffer): DecodedCall {
  let call;
  try {
    call = decodeMethodCall(body);
  } catch (e) {
    throw new MailkitError(`Invalid XML-RPC request: ${e instanceof XmlRpcParseError ? e.message : 'not an XML-RPC call'}`);
  }
  const [id, md5, ...rest] = call.params;
  const spec = Object.prototype.hasOwnProperty.call(FUNCTIONS, call.methodName) ? FUNCTIONS[call.methodName] : undefined;
  // No known client sends more than a function's documented parameters (igloonet's and Mailkit's PHP clients
  // send exactly them): more is a mistaken call, refused rather than half-read.
  if (spec && !spec.rest && rest.length > spec.params.length)
    throw new MailkitError(
      `Too many parameters: ${call.methodName} takes ${spec.params.length + 2} (client_id, client_md5${spec.params.map((p) => `, ${p}`).join('')})`,
    );
  const args: MailkitArgs = {};
  spec?.params.forEach((name, i) => (args[name] = rest[i]));
  if (spec?.rest) args[spec.rest] = rest.slice(spec.params.length);
  return { fn: call.methodName, creds: credentials(id, md5), args };
}

export function mailkitRouters(deps: AdapterDeps): { json: express.Router; rpc: express.Router } {
  const auth = authenticator(deps.core, deps.authLimiter);

  async function run(req: Request, res: Response, encoding: Encoding, decode: () => DecodedCall): Promise<void> {
    const requestId = requestIdOf(res);
    const answer = (value: unknown) =>
      encoding === 'json'
        ? res.status(200).json(value)
        : res
            .status(200)
            .type('text/xml; charset=utf-8')
            .send(encodeResponse(value, { integers: 'i4', declareEncoding: true }));
    const error = (text: string) => answer(encoding === 'json' ? { error_status: 1, error: text } : text);
    let call: DecodedCall;
    try {
      call = decode();
    } catch (e) {
      return void error(errorText(e).text);
    }
    nameCall(res, Object.prototype.hasOwnProperty.call(FUNCTIONS, call.fn) ? call.fn : 'unknown');
    const outcome = await auth.check(remoteAddress(req), call.creds);
    if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
    if (outcome.kind === 'unavailable') {
      const u = authUnavailability(outcome.error);
      logUnavailable(deps.logger, 'mailkit authentication', u, { err: outcome.error, requestId });
      return void error(unavailableText(u));
    }
    if (outcome.kind !== 'ok') return void error(UNAUTHORIZED);
    const fn = Object.prototype.hasOwnProperty.call(FUNCTIONS, call.fn) ? FUNCTIONS[call.fn] : undefined;
    if (!fn) return void error(UNKNOWN_FUNCTION);
    try {
      answer(await fn.handler({ call: { accountId: outcome.principal.accountId, keyId: outcome.principal.keyId, requestId }, deps, encoding }, call.args));
    } catch (e) {
      const t = errorText(e);
      if (t.internal) deps.logger.error({ err: e, requestId, function: call.fn }, 'mailkit: internal error');
      if (t.unavailable) logUnavailable(deps.logger, `mailkit ${call.fn}`, t.unavailable, { requestId });
      error(t.text);
    }
  }

  const limit = deps.config.MAX_BODY_BYTES;
  const onError = (encoding: Encoding) => {
    const error = (res: Response, text: string) => {
      if (encoding === 'json') res.status(200).json({ error_status: 1, error: text });
      else
        res
          .status(200)
          .type('text/xml; charset=utf-8')
          .send(encodeResponse(text, { declareEncoding: true }));
    };
    return requestErrors({
      name: 'mailkit',
      logger: deps.logger,
      tooLarge: plainTooLarge(limit),
      unreadable: (res, _status, err) =>
        error(res, isBadInput(err) ? `Invalid request: ${err.message}` : encoding === 'json' ? 'Invalid JSON' : 'Invalid XML-RPC request'),
      internal: (res) => error(res, INTERNAL),
    });
  };

  const json = express.Router();
  json.post('/', ...jsonBody({ type: () => true, limit }), (req, res) => run(req, res, 'json', () => fromJson(req.body)));
  json.use(onError('json'));

  const rpc = express.Router();
  rpc.post('/', express.raw({ type: () => true, limit }), (req, res) =>
    run(req, res, 'xml', () => fromXml(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0))),
  );
  rpc.use(onError('xml'));

  for (const r of [json, rpc]) r.all('/', postOnly('Mailkit API: POST only.\n'));
  return { json, rpc };
}
