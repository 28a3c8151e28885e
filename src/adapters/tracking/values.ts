/** Reading the public links' requests: the token in the path, and RFC 8058's one-click form body. */
import type { Request } from 'express';

export const tokenOf = (req: Request): string => String(req.params.token);

/** `List-Unsubscribe=One-Click`: the mailbox provider's one-click POST, not a person's button. */
export function isOneClick(body: unknown): boolean {
  return ((body ?? {}) as Record<string, unknown>)['List-Unsubscribe'] === 'One-Click';
}
