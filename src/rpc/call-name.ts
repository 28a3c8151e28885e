/**
 * The API function a request called, for the request metrics' `function` label (src/http/observe.ts): an RPC
 * method or Mailkit function of the dialect's table, `batch`, or `unknown` for a name the table lacks (a
 * client's made-up name must never become a label).
 */
import type { Response } from 'express';

export function nameCall(res: Response, name: string): void {
  res.locals.apiFunction = name;
}

export function calledName(res: Response): string | undefined {
  return res.locals.apiFunction as string | undefined;
}
