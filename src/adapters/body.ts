/**
 * Body and query readers every dialect mounts, holding decoded input to the rules of src/core/input.ts. A
 * breach is a BadInput error (HTTP 400, message exposed) passed to express' error handling, which each
 * dialect's `unreadable` answer spells in its own shape (http-errors.ts), or thrown by a
 * dialect's own reader. And the JSON answer of the REST dialects.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { bytesProblem, escapedTextProblem, inputProblem } from '../core/input.js';

/** Input that breaks the rules: 400, its message safe to show. */
export class BadInput extends Error {
  readonly status = 400;
  readonly expose = true;
  readonly type = 'input.refused';
  constructor(message: string) {
    super(message);
    this.name = 'BadInput';
  }
}

export const isBadInput = (e: unknown): e is BadInput => e instanceof BadInput;

/** body-parser's `verify`: the raw bytes of a JSON body are UTF-8. */
export function verifyUtf8(_req: IncomingMessage, _res: unknown, buf: Buffer): void {
  const p = bytesProblem(buf);
  if (p) throw new BadInput(p);
}

/** body-parser's `verify` for form bodies: what the %-escapes stand for is UTF-8. */
function verifyEscaped(_req: IncomingMessage, _res: unknown, buf: Buffer): void {
  const p = escapedTextProblem(buf);
  if (p) throw new BadInput(p);
}

/** After a parser: the decoded body within the nesting and text rules. */
const checkDecoded: RequestHandler = (req, _res, next) => {
  const p = inputProblem(req.body);
  next(p ? new BadInput(p) : undefined);
};

export interface JsonBodyOptions {
  limit: number;
  type: string | string[] | ((req: IncomingMessage) => boolean);
}

/** express.json (any JSON value, not only objects and arrays) plus the input rules. */
export function jsonBody(o: JsonBodyOptions): RequestHandler[] {
  return [express.json({ type: o.type, limit: o.limit, strict: false, verify: verifyUtf8 }), checkDecoded];
}

/**
 * The query string, then a JSON body (of a `jsonType` Content-Type) or a form (flat keys), each within the input
 * rules, in one middleware: express walks every layer of a router for every request, and a check, two readers
 * and a check after each were five.
 */
export function queryAndBody(o: { limit: number; parameterLimit: number; jsonType: string | string[] }): RequestHandler {
  const json = express.json({ type: o.jsonType, limit: o.limit, strict: false, verify: verifyUtf8 });
  const form = express.urlencoded({ extended: false, limit: o.limit, parameterLimit: o.parameterLimit, verify: verifyEscaped });
  return (req: Request, res: Response, next: NextFunction) => {
    const q = queryProblem(req);
    if (q) return next(new BadInput(q));
    const checked = (err?: unknown) => {
      if (err) return next(err);
      const p = inputProblem(req.body);
      next(p ? new BadInput(p) : undefined);
    };
    // A body the JSON reader read is never undefined (strict: false reads `null` too): the form reader is skipped.
    json(req, res, (err?: unknown) => (err || req.body !== undefined ? checked(err) : form(req, res, checked)));
  };
}

/**
 * A JSON answer as res.json writes it (Content-Type `application/json; charset=utf-8`, Content-Length, no body
 * to HEAD), without the ETag res.json derives from every body (a SHA-1 of it) and the freshness check it
 * allows: the REST services we stand in for send none (their pages' answers carry Content-Type, Allow and Vary
 * only), no client of theirs revalidates, and an answer to anything but a GET never could. What res.json
 * treats apart (a Content-Type already set, a status without a body, no JSON text) goes to res.json.
 */
export function answerJson(res: Response, status: number, value: unknown): void {
  res.status(status);
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined || status === 204 || status === 205 || status === 304 || res.hasHeader('Content-Type')) return void res.json(value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (res.req.method === 'HEAD') res.end();
  else res.end(text);
}

/** Why the query string of a request breaks the rules, or undefined. */
export function queryProblem(req: Request): string | undefined {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? undefined : escapedTextProblem(req.originalUrl.slice(q + 1));
}
