/**
 * Emailicious objects as its API docs show them: lists, subscribers (custom fields flat on the object),
 * mailings (the seed's create answer), paginated envelopes with absolute `next` / `previous`.
 *
 * Mailgate has no users: `create_user` and `update_user` are null. Datetimes are UTC with `Z`, milliseconds
 * only when there are some (the seed writes `2017-05-15T19:30:33Z`).
 */
import type { Request } from 'express';
import type { ListDetails } from '../../core/lists/members.js';
import type { SubscriberRow, SubscriberStatus } from '../../core/lists/service.js';
import type { DeliveryView, NewsletterView } from '../../core/newsletters/service.js';
import type { MailingStatus } from '../../core/statuses.js';

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString().replace('.000Z', 'Z') : null);

/** Subscriber fields Emailicious always shows, with their empty value. */
export const STANDARD_FIELDS: Record<string, '' | null> = { first_name: '', last_name: '', gender: '', date_of_birth: null, language: '', region: '' };
/** Names that are the subscriber's own, never custom fields. */
export const READ_ONLY_FIELDS = new Set(['id', 'create_datetime', 'create_user', 'update_datetime', 'update_user', 'subscription', 'email']);

export const SUBSCRIPTION: Record<SubscriberStatus, string> = {
  active: 'active',
  unconfirmed: 'pending',
  bounced: 'bounced',
  unsubscribed: 'unsubscribed',
  complained: 'unsubscribed',
  disabled: 'deleted',
};

/** `?subscription=` → the core statuses it covers (undefined: not a subscription status). */
export function statusesOf(subscription: string): SubscriberStatus[] | undefined {
  const out = (Object.keys(SUBSCRIPTION) as SubscriberStatus[]).filter((k) => SUBSCRIPTION[k] === subscription);
  return out.length ? out : undefined;
}

export function list(l: ListDetails) {
  return {
    id: l.id,
    create_datetime: iso(l.created_at),
    create_user: null,
    update_datetime: iso(l.updated_at),
    update_user: null,
    name: l.name,
    default_from_name: l.default_from_name ?? '',
    default_from_email: l.default_from_email ?? '',
    default_replyto_email: l.default_replyto_email ?? '',
    default_language: l.language,
    languages: l.languages,
  };
}

export function subscriber(s: SubscriberRow) {
  const out: Record<string, unknown> = {
    id: s.id,
    create_datetime: iso(s.created_at),
    create_user: null,
    update_datetime: iso(s.modified_at),
    update_user: null,
    subscription: SUBSCRIPTION[s.status],
    email: s.email,
  };
  for (const [k, empty] of Object.entries(STANDARD_FIELDS)) out[k] = s.params[k] ?? empty;
  for (const [k, v] of Object.entries(s.params)) if (!(k in out) && !READ_ONLY_FIELDS.has(k)) out[k] = v;
  return out;
}

const DELIVERY_STATUS: Record<MailingStatus, string> = { filling: 'scheduled', ready: 'scheduled', running: 'sending', paused: 'paused', finished: 'sent' };

function delivery(d: DeliveryView, detail: boolean) {
  const base = { exclusions: d.exclusions, limit: d.limit, scheduled_datetime: iso(d.scheduledAt) };
  if (!detail) return base;
  const t = d.totals;
  return {
    id: d.id,
    ...base,
    status: DELIVERY_STATUS[d.status],
    start_datetime: iso(d.startedAt),
    end_datetime: iso(d.finishedAt),
    totals: {
      recipients: t.total,
      sent: t.sent,
      delivered: t.delivered,
      failed: t.failed,
      bounced: t.bounced,
      unsubscribed: t.unsubscribed,
      complained: t.complained,
      opens: t.opens,
      unique_opens: t.opens_unique,
      clicks: t.clicks,
      unique_clicks: t.clicks_unique,
      // Mailgate's: opens and clicks judged a machine's (the four above are people's).
      machine_opens: t.machine_opens,
      machine_unique_opens: t.machine_opens_unique,
      machine_clicks: t.machine_clicks,
      machine_unique_clicks: t.machine_clicks_unique,
    },
  };
}

/** The seed's mailing object; `detail` adds each delivery's id, status and totals (a Mailgate addition). */
export function mailing(m: NewsletterView, detail: boolean) {
  return {
    id: m.id,
    name: m.name,
    list: m.listId,
    campaign: m.campaignId,
    segments: m.segments,
    variants: m.variants.map((v) => ({
      from_name: v.fromName,
      from_email: v.fromEmail,
      replyto_email: v.replytoEmail,
      subject: v.subject,
      deliveries: v.deliveries.map((d) => delivery(d, detail)),
      language: v.language,
      layout: { id: v.layout?.id ?? v.id, source: v.layout?.source ?? '', text: v.text ?? '' },
    })),
  };
}

export const mailingItem = (m: { id: number; name: string | null; campaignId: number | null }) => ({ id: m.id, name: m.name, campaign: m.campaignId });

/** The URL the client called, absolute (scheme and host as it used them; a proxy's X-Forwarded-Proto from loopback). */
export function calledUrl(req: Request): URL {
  return new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
}

/** DRF's page envelope: `next` and `previous` are the called URL with another `page` (page 1 without it). */
export function page<T>(req: Request, p: { page: number; size: number; count: number }, results: T[]) {
  const at = (n: number) => {
    const u = calledUrl(req);
    if (n === 1) u.searchParams.delete('page');
    else u.searchParams.set('page', String(n));
    return u.toString();
  };
  return {
    count: p.count,
    next: p.page * p.size < p.count ? at(p.page + 1) : null,
    previous: p.page > 1 ? at(p.page - 1) : null,
    results,
  };
}

// ---------------------------------------------------------------------------------------------- OPTIONS

/** The writable fields of a resource as OPTIONS describes them in `actions.POST`. */
const field = (type: string, label: string, o: Record<string, unknown> = {}) => ({ type, required: false, read_only: false, label, ...o });
const READ_ONLY = { read_only: true };
const STAMPS = {
  id: field('integer', 'ID', READ_ONLY),
  create_datetime: field('datetime', 'Create datetime', READ_ONLY),
  create_user: field('field', 'Create user', READ_ONLY),
  update_datetime: field('datetime', 'Update datetime', READ_ONLY),
  update_user: field('field', 'Update user', READ_ONLY),
};
export const LIST_FIELDS = {
  ...STAMPS,
  name: field('string', 'Name', { required: true, max_length: 255 }),
  default_from_name: field('string', 'Default from name', { max_length: 255 }),
  default_from_email: field('email', 'Default from email', { max_length: 254 }),
  default_replyto_email: field('email', 'Default reply-to email', { max_length: 254 }),
  default_language: field('string', 'Default language', { help_text: 'ISO-639-1 language code.' }),
  languages: field('list', 'Languages', { help_text: 'ISO-639-1 language codes.' }),
};
export const SUBSCRIBER_FIELDS = {
  ...STAMPS,
  subscription: field('field', 'Subscription', READ_ONLY),
  email: field('email', 'Email', { required: true, max_length: 254 }),
  first_name: field('string', 'First name', { max_length: 100 }),
  last_name: field('string', 'Last name', { max_length: 100 }),
  gender: field('choice', 'Gender', {
    choices: [
      { display_name: 'Unknown', value: '' },
      { display_name: 'Male', value: 'm' },
      { display_name: 'Female', value: 'f' },
    ],
  }),
  date_of_birth: field('date', 'Date of birth'),
  language: field('field', 'Language', { help_text: 'ISO-639-1 language code.' }),
  region: field('field', 'Region', { help_text: 'ISO-3166-1 country or ISO-3166-2 region code.' }),
};
export const MAILING_FIELDS = {
  id: field('integer', 'ID', READ_ONLY),
  list: field('field', 'List', { required: true }),
  name: field('string', 'Name', { required: true, max_length: 255 }),
  campaign: field('field', 'Campaign'),
  segments: field('field', 'Segments'),
  variants: field('field', 'Variants', { required: true }),
};
