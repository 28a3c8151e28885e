/**
 * Reading the admin pages' requests. Nothing here throws: a value that is not what a page expects reads as
 * none (an id as 0, which names nothing), so a hand-edited URL gets the page without it, or a 404.
 */
import type { Request } from 'express';
import type { RecipientStatus, SubscriberStatus } from '../../core/statuses.js';
import { FAILED } from '../../core/overview/service.js';

/** A positive id of at most 15 digits, else 0. */
const idOf = (v: unknown): number => (typeof v === 'string' && /^[1-9]\d{0,14}$/.test(v) ? Number(v) : 0);

/** The id in the path (`:id`); 0 when it is not one. */
export const idParam = (req: Request): number => idOf(req.params.id);

/** `?before=<id>`: the page of the rows older than that one. */
export const beforeOf = (req: Request): number | undefined => idOf(req.query.before) || undefined;

/** `?q=`: a search, trimmed, at most 200 characters; undefined when empty. */
export function searchOf(req: Request): string | undefined {
  const q = req.query.q;
  return typeof q === 'string' && q.trim() ? q.trim().slice(0, 200) : undefined;
}

/** The recipient filters of a mailing's page, in the page's words. */
export const RECIPIENT_FILTERS = {
  all: null,
  sent: ['finished'],
  pending: ['ready'],
  deferred: ['warning'],
  failed: FAILED,
} as const satisfies Record<string, readonly RecipientStatus[] | null>;
export type RecipientFilterName = keyof typeof RECIPIENT_FILTERS;

export function recipientFilterOf(req: Request): RecipientFilterName {
  const s = req.query.status;
  return typeof s === 'string' && Object.hasOwn(RECIPIENT_FILTERS, s) ? (s as RecipientFilterName) : 'all';
}

/** A form field as text ('' when absent or not text), trimmed. */
export function field(req: Request, name: string): string {
  const body = req.body as Record<string, unknown> | undefined;
  const v = body && Object.hasOwn(body, name) ? body[name] : undefined;
  return typeof v === 'string' ? v.trim() : '';
}

/** A form field as it was typed (passwords keep their blanks). */
export function rawField(req: Request, name: string): string {
  const body = req.body as Record<string, unknown> | undefined;
  const v = body && Object.hasOwn(body, name) ? body[name] : undefined;
  return typeof v === 'string' ? v : '';
}

/** The value of one cookie of the request (the first, when sent twice), undefined when absent. */
export function cookieOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `?next=` of the login page: a path of the admin pages only (never another site, never `//host`). */
export function nextOf(value: unknown): string {
  return typeof value === 'string' && /^\/admin(\/[^/\\][^\\]*)?$/.test(value) && !/[\r\n]/.test(value) ? value : '/admin/mailings';
}

/** `?days=` of the outbox purge: 1 to 3650, or null (purge everything) when the field is empty. */
export function purgeDaysOf(req: Request): number | null | undefined {
  const v = field(req, 'days');
  if (v === '') return null;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 3650) return undefined;
  return Number(v);
}

// --- webhooks

/** A form field sent once or several times (checkboxes), each value trimmed, empty ones dropped. */
export function fieldsOf(req: Request, name: string): string[] {
  const body = req.body as Record<string, unknown> | undefined;
  const v = body && Object.hasOwn(body, name) ? body[name] : undefined;
  const all = Array.isArray(v) ? v : [v];
  return all.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim());
}

/** `?failed=1`: only failed attempts. */
export const failedOnlyOf = (req: Request): boolean => req.query.failed === '1';

/** A time typed in a form as UTC (`YYYY-MM-DDTHH:MM`, seconds optional, `T` or a blank), else undefined. */
export function utcTimeOf(req: Request, name: string): Date | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?$/.exec(field(req, name));
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls over (Feb 30 becomes Mar 2): only a time that reads back as typed is one.
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? t : undefined;
}

// --- segments and unsubscribe lists

/** A form field holding an id (a select's value), else 0. */
export const idField = (req: Request, name: string): number => idOf(field(req, name));

/** A textarea's lines, each trimmed, blank ones left out. */
export const linesOf = (req: Request, name: string): string[] =>
  rawField(req, name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

/** `?after=`: where a page in address order starts (the last address of the page before), at most 320 characters. */
export function afterOf(req: Request): string | undefined {
  const a = req.query.after;
  return typeof a === 'string' && a && a.length <= 320 ? a : undefined;
}

// --- lists and subscribers

/** The subscriber id in the path (`:subscriber`); 0 when it is not one. */
export const subscriberParam = (req: Request): number => idOf(req.params.subscriber);

/** The subscriber filters of a list's page: all, or one status. */
export const SUBSCRIBER_FILTERS = {
  all: null,
  active: ['active'],
  unconfirmed: ['unconfirmed'],
  unsubscribed: ['unsubscribed'],
  bounced: ['bounced'],
  complained: ['complained'],
  disabled: ['disabled'],
} as const satisfies Record<string, readonly SubscriberStatus[] | null>;
export type SubscriberFilterName = keyof typeof SUBSCRIBER_FILTERS;

export function subscriberFilterOf(req: Request): SubscriberFilterName {
  const s = req.query.status;
  return typeof s === 'string' && Object.hasOwn(SUBSCRIBER_FILTERS, s) ? (s as SubscriberFilterName) : 'all';
}
