/**
 * The HTTP-level answers every dialect gives in its own shapes: what reaches express' error handling (a body
 * over MAX_BODY_BYTES, a body that cannot be read or parsed, anything unexpected) and a method the path does
 * not take (405). Domain errors never get here: each dialect's handlers answer them (its errors.ts), and a
 * database that cannot serve too (core/errors.ts `unavailability`), logged here in one line.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { logUnavailable, unavailability, type Unavailability } from '../core/errors.js';
import type { Logger } from '../logger.js';

export interface RequestErrorAnswers {
  /** For log lines. */
  name: string;
  logger: Logger;
  /** HTTP 413: the body is over the limit. */
  tooLarge(res: Response): void;
  /**
   * Any other 4xx of the body parsers or of routing (malformed JSON, an aborted upload, an unsupported
   * Content-Encoding, a malformed %-escape in the path): `status` is the one they set.
   */
  unreadable(res: Response, status: number, err: unknown): void;
  /** Anything else, already logged: the dialect's internal error, without details. `status` is 5xx. */
  internal(res: Response, status: number): void;
  /**
   * The database could not serve the call (full, out of memory, restarting, unreachable: core/errors.ts),
   * already logged in one line: the dialect's "service unavailable" with `u.message`. Without it, the
   * internal error with 503.
   */
  unavailable?(res: Response, u: Unavailability): void;
}

/** The HTTP status an error carries (body-parser's and express' errors set `status`), else 500. */
function statusOf(err: unknown): number {
  return typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : 500;
}

/** The dialect's error handler: the last middleware of its router. */
export function requestErrors(o: RequestErrorAnswers): ErrorRequestHandler {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- express takes a function of four parameters for an error handler
  return (err: unknown, _req, res, _next) => {
    const status = statusOf(err);
    const u = status >= 500 ? unavailability(err) : undefined;
    if (u) {
      logUnavailable(o.logger, o.name, u, { requestId: res.locals.requestId });
      if (res.headersSent) return;
      if (o.unavailable) o.unavailable(res, u);
      else o.internal(res, 503);
      return;
    }
    const unreadable = status >= 400 && status < 500 && status !== 413;
    if (status !== 413 && !unreadable) o.logger.error({ err, requestId: res.locals.requestId }, `${o.name}: request failed`);
    if (res.headersSent) return;
    if (status === 413) o.tooLarge(res);
    else if (unreadable) o.unreadable(res, status, err);
    else o.internal(res, status >= 500 && status < 600 ? status : 500);
  };
}

/** The plain-text 413 of the RPC dialects. */
export const plainTooLarge =
  (limit: number) =>
  (res: Response): void =>
    void res.status(413).type('text/plain').send(`Request body too large (limit ${limit} bytes).\n`);

/** 405: `Allow` names the methods the path takes; `answer` sends the dialect's body. */
export function methodNotAllowed(res: Response, allow: string, answer: (res: Response) => void): void {
  answer(res.set('Allow', allow).status(405));
}

/** For a path that takes POST only: every other method is 405 with a line of text. */
export const postOnly =
  (text: string): RequestHandler =>
  (_req: Request, res: Response) =>
    methodNotAllowed(res, 'POST', (r) => void r.type('text/plain').send(text));
