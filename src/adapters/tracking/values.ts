/** Reading the public links' requests: the token in the path, RFC 8058's one-click form body, tracking's request. */
import type { Request } from 'express';
import type { TrackingRequest } from '../../core/tracking/service.js';

export const tokenOf = (req: Request): string => String(req.params.token);

/** The pixel's token: its file name without `.gif` (another name is no token). */
export function pixelToken(req: Request): string {
  const file = String(req.params.file);
  return file.endsWith('.gif') ? file.slice(0, -4) : '';
}

/** A link's `u`: one http(s) URL, else null (several `u`, or another scheme, are no link of a message). */
export function clickTarget(req: Request): string | null {
  const u = (req.query as Record<string, unknown>).u;
  return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null;
}

/** Who asked and when: the address (an IPv4-mapped IPv6 one as IPv4), the user agent, the method. */
export function trackingRequest(req: Request): Omit<TrackingRequest, 'recipientId'> {
  const ip = req.ip ?? req.socket.remoteAddress ?? null;
  return {
    method: req.method === 'HEAD' ? 'HEAD' : 'GET',
    ip: ip?.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip,
    userAgent: req.get('user-agent') ?? null,
    at: new Date(),
  };
}

/** `List-Unsubscribe=One-Click`: the mailbox provider's one-click POST, not a person's button. */
export function isOneClick(body: unknown): boolean {
  return ((body ?? {}) as Record<string, unknown>)['List-Unsubscribe'] === 'One-Click';
}
