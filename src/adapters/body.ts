/**
 * Body and query readers every dialect mounts, holding decoded input to the rules of src/core/input.ts. A
 * breach is a BadInput error (HTTP 400, message exposed) passed to express' error handling, which each
 * dialect's `unreadable` answer spells in its own shape (http-errors.ts), or thrown by a
 * dialect's own reader.
 */
import express, { type Request, type RequestHandler } from 'express';
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

/** express.urlencoded (flat keys) plus the input rules. */
export function formBody(o: { limit: number; parameterLimit: number }): RequestHandler[] {
  return [express.urlencoded({ extended: false, limit: o.limit, parameterLimit: o.parameterLimit, verify: verifyEscaped }), checkDecoded];
}

/** Why the query string of a request breaks the rules, or undefined. */
export function queryProblem(req: Request): string | undefined {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? undefined : escapedTextProblem(req.originalUrl.slice(q + 1));
}

/** The query string within the rules, else BadInput to the dialect's error handling. */
export const checkQuery: RequestHandler = (req, _res, next) => {
  const p = queryProblem(req);
  next(p ? new BadInput(p) : undefined);
};
