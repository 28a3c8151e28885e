/**
 * Sender's answers: `{"params": <echo>, "result": {"status": "OK", ...}}` for the subscription calls;
 * bulk calls answer without `params`; content pages in Django REST Framework's limit/offset style; one
 * subscriber as `{email, _created_at, _modified_at, _enabled, _status, <its params flat>}`; the unsubscribe
 * family's `"status": "ok"` in lower case.
 */
import type { Request } from 'express';
import type { SubscriberRow } from '../../core/lists/service.js';
import type { RecipientRow } from '../../core/recipients/service.js';
import type { Params } from './values.js';

/**
 * A transactional message's delivery as Sender's status answers it: `code` is SMTP-like (2xx sent, 104 still
 * in progress, the relay's code when it refused, 500 when it could not be built or expired unsent);
 * `retry`: will Mailgate try again.
 */
export function deliveryStatus(r: RecipientRow): { msg: string; code: number; retry: boolean } {
  switch (r.status) {
    case 'ready':
      return { msg: 'In progress', code: 104, retry: false };
    case 'warning':
      return { msg: r.reply_text ?? 'Temporary failure; will retry', code: r.reply_code ?? 451, retry: true };
    case 'finished':
      return { msg: r.reply_text ?? 'OK', code: r.reply_code ?? 250, retry: false };
    case 'error':
      return { msg: r.reply_text ?? 'Refused', code: r.reply_code ?? 550, retry: false };
    default:
      return { msg: r.reply_text ?? 'Not sent', code: r.reply_code ?? 500, retry: false };
  }
}

export const ok = (params: Record<string, unknown> | undefined, result: Record<string, unknown> = {}) =>
  params === undefined ? { result: { status: 'OK', ...result } } : { params, result: { status: 'OK', ...result } };

/** The given parameters among `names`, as they came (a JSON string stays a string). */
export const echo = (p: Params, ...names: string[]) => Object.fromEntries(names.filter((n) => p[n] !== undefined).map((n) => [n, p[n]]));

/** The unsubscribe family's success: `"status": "ok"` in lower case. */
export const okLower = (email: string) => ({ params: { email }, result: { status: 'ok' } });

/** A maillist (Mailgate addition). */
export function listResult(l: { slug: string; name: string; description: string; created_at: Date }, count: number) {
  return { slug: l.slug, title: l.name, description: l.description, created_at: l.created_at.toISOString(), count };
}

/** The account as the unsubscribe pages' "group". */
export const unsubscribeGroup = (a: { id: number; slug: string; name: string | null }, unsubscribed: boolean) => ({
  unsubscribed,
  slug: a.slug,
  id: String(a.id),
  name: a.name ?? a.slug,
});

/** A list of the unsubscribe info, named in both languages. */
export const unsubscribeListInfo = (account: string, l: { id: number; slug: string; name: string; member: boolean }) => ({
  list: { account, description: null, id: String(l.id), name: { ru: l.name, en: l.name }, slug: l.slug },
  unsubscribed: l.member,
});

/** `_status`: empty for a subscriber that is (or was made) inactive by a call; else why mail stopped. */
function statusText(s: SubscriberRow['status']): string {
  return s === 'active' || s === 'disabled' ? '' : s;
}

export function subscriberElement(s: SubscriberRow): Record<string, unknown> {
  return {
    ...s.params,
    email: s.email,
    _created_at: s.created_at.toISOString(),
    _modified_at: s.modified_at.toISOString(),
    _enabled: s.enabled,
    _status: statusText(s.status),
  };
}

/**
 * Absolute `next` / `previous` links as Django REST Framework's LimitOffsetPagination builds them: the
 * request's own URL with `limit` and `offset` replaced, keys sorted; `previous` drops `offset` when it
 * would be 0; null at either end.
 */
export function pageLinks(
  base: string,
  query: Record<string, string>,
  offset: number,
  limit: number,
  count: number,
): { next: string | null; previous: string | null } {
  const url = (o: number | null) => {
    const q: Record<string, string> = { ...query, limit: String(limit) };
    if (o === null) delete q.offset;
    else q.offset = String(o);
    const search = new URLSearchParams(
      Object.keys(q)
        .sort()
        .map((k): [string, string] => [k, q[k]!]),
    );
    return `${base}?${search.toString()}`;
  };
  const next = offset + limit < count ? url(offset + limit) : null;
  const previous = offset <= 0 ? null : offset - limit <= 0 ? url(null) : url(offset - limit);
  return { next, previous };
}

/** A content page in DRF's limit/offset shape, its links built from the request's own URL. */
export function contentPage(req: Request, page: { after: { echo: string } | undefined; offset: number; limit: number }, count: number, result: unknown[]) {
  // Express's simple query parser: a string per key, an array of them for a repeated key (the last one counts).
  const query = Object.fromEntries(
    Object.entries(req.query).flatMap(([k, v]): [string, string][] => {
      const last = Array.isArray(v) ? v.at(-1) : v;
      return typeof last === 'string' ? [[k, last]] : [];
    }),
  );
  const links = pageLinks(`${req.protocol}://${req.get('host')}${req.baseUrl}${req.path}`, query, page.offset, page.limit, count);
  return {
    count,
    next: links.next,
    previous: links.previous,
    params: { ...(page.after ? { after: page.after.echo } : {}), limit: page.limit, offset: page.offset },
    result,
  };
}
