/**
 * Core rows to Mailkit records. A record is built once as typed fields and written in each encoding as
 * Mailkit writes it: report records carry strings in JSON (the seed: `"ID_MESSAGE": "12345"`) and `<i4>`
 * integers / `<string>`s in XML-RPC, members in the seed's order.
 */
import type { BounceRow } from '../../core/bounces/service.js';
import type { ListRow, SubscriberRow } from '../../core/lists/service.js';
import type { MailingView } from '../../core/mailings/service.js';
import type {
  EngagementRow,
  MessageLogRow,
  Response,
  ResponseKind,
  SendBounceRow,
  SendLink,
  SendReportRow,
  SenderAddress,
  UnsubscribedRow,
} from '../../core/reports/service.js';
import type { SuppressionRow } from '../../core/suppressions/service.js';
import { wireText, type RpcValue } from '../../rpc/values.js';
import { mkDate } from './values.js';

export type Encoding = 'json' | 'xml';

/** The subscriber statuses as Mailkit's adduser reports them. */
export const INSERT_STATUS = { updated: 0, inserted: 1, insertedUnsubscribed: 2, updatedUnsubscribed: 3 } as const;

/** A field: a name, and an integer (ids, counts) or a text. Null is written as 0 / '' ("not set"). */
export type Field = readonly [name: string, kind: 'int' | 'text', value: number | string | null];

/**
 * One record in one encoding: JSON strings everywhere (`jsonInts`: JSON numbers for the integers, where the
 * real reply has them), XML typed.
 */
export function record(fields: readonly Field[], encoding: Encoding, o: { jsonInts?: boolean } = {}): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, kind, value] of fields) {
    if (encoding === 'json' && !(o.jsonInts && kind === 'int')) out[name] = value === null ? '' : String(value);
    else out[name] = kind === 'int' ? Number(value ?? 0) : String(value ?? '');
  }
  return out;
}

/** mailkit.report.raw.bounces: one bounce, fields and order exactly as the seed (ID_SEND_MESSGE sic). */
export function rawBounceFields(b: BounceRow): Field[] {
  return [
    ['ID_MESSAGE', 'int', b.mailing_id],
    ['TEXT_STATUS', 'text', b.text_status],
    ['STATUS', 'text', b.enhanced_status],
    ['ID_EMAIL', 'int', b.email_id],
    ['ID_SEND', 'int', b.send_id],
    ['EMAIL', 'text', b.email],
    ['ID_SEND_MESSGE', 'int', b.recipient_id],
    ['ID_USER_LIST', 'int', b.list_id],
    ['REMOTE_MTA', 'text', b.remote_mta],
    ['ID_UNDELIVERED_LOG', 'int', b.id],
    ['RECIPIENT_STATUS', 'text', b.kind],
  ];
}

/** A stored field as text ('' for none); fields are JSON (jsonb), and one stored as a struct reads as JSON. */
const text = (v: unknown): string => (v === undefined || v === null ? '' : wireText(v as RpcValue));

/** The core's recipient status as Mailkit's message status word. */
const MESSAGE_STATUS: Record<MessageLogRow['status'], string> = {
  ready: 'pending',
  warning: 'deferred',
  finished: 'delivered',
  error: 'bounced',
  timeout: 'expired',
  general_error: 'failed',
};

/**
 * mailkit.report.raw.messages: one message, with the field names the real API uses here (mixed case, unlike
 * the bounce log). Recipient fields come from the message's personalization fields.
 */
export function rawMessageFields(r: MessageLogRow): Field[] {
  const f = r.fields ?? {};
  const domain = domainOf(r.email);
  const out: Field[] = [
    ['ID_message', 'int', r.mailing_id],
    ['ID_send', 'int', r.send_id],
    ['ID_send_message', 'int', r.id],
    ['ID_user_list', 'int', r.list_id],
    ['ID_email', 'int', r.email_id],
    ['email', 'text', r.email],
    ['message_date', 'text', mkDate(r.first_try)],
    ['date_sent', 'text', r.status === 'finished' ? mkDate(r.last_try) : ''],
    ['message_status', 'text', MESSAGE_STATUS[r.status]],
    ['status_code', 'text', r.reply_enhanced_code ?? (r.reply_code === null ? '' : String(r.reply_code))],
    ['tld', 'text', domain.slice(domain.lastIndexOf('.') + 1)],
    ['domain', 'text', domain],
  ];
  for (const name of USER_FIELDS) out.push([name, 'text', text(f[name])]);
  for (let n = 1; n <= 25; n++) out.push([`custom_${n}`, 'text', text(f[`custom${n}`] ?? f[`custom_${n}`])]);
  return out;
}

/** An address's domain, lower-cased ('' when it has none). */
function domainOf(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

const USER_FIELDS = [
  'prefix',
  'vocative',
  'first_name',
  'last_name',
  'nick_name',
  'gender',
  'reply_to',
  'company',
  'street',
  'city',
  'state',
  'country',
  'zip',
  'phone',
  'mobile',
  'fax',
];

/** mailkit.report.message.bounces: the latest bounce of one message of the send. */
export function messageBounceFields(b: SendBounceRow): Field[] {
  return [
    ['ID_SEND_MESSAGE', 'int', b.recipient_id],
    ['ID_USER_LIST', 'int', b.list_id],
    ['DATE', 'text', mkDate(b.created_at)],
    ['STATUS', 'text', b.enhanced_status],
    ['ID_EMAIL', 'int', b.email_id],
    ['EMAIL', 'text', b.email],
    ['EMAIL_STATUS', 'text', b.kind],
  ];
}

const pct = (part: number, whole: number) => (whole > 0 ? ((100 * part) / whole).toFixed(2) : '0.00');

/** Per-mailing sums of per-send rows (mailkit.report). */
export function byMailing(rows: readonly SendReportRow[]): SendReportRow[] {
  const out = new Map<number, SendReportRow>();
  const sum = [
    'total',
    'sent',
    'delivered',
    'failed',
    'bounced',
    'unsubscribed',
    'complained',
    'opens',
    'opens_unique',
    'clicks',
    'clicks_unique',
    'machine_opens',
    'machine_opens_unique',
    'machine_clicks',
    'machine_clicks_unique',
  ] as const;
  for (const r of rows) {
    const m = out.get(r.mailing_id);
    if (!m) out.set(r.mailing_id, { ...r });
    else for (const k of sum) m[k] += r[k];
  }
  return [...out.values()];
}

/**
 * Mailgate's fields beside READ_COUNT...CLICK_COUNT_U (which count people's opens and clicks): the opens and
 * clicks judged a machine's (Apple's and Gmail's proxies, link scanners, ...), total and unique.
 */
const machineFields = (r: Pick<SendReportRow, 'machine_opens' | 'machine_opens_unique' | 'machine_clicks' | 'machine_clicks_unique'>): Field[] => [
  ['READ_COUNT_MACHINE', 'int', r.machine_opens],
  ['READ_COUNT_U_MACHINE', 'int', r.machine_opens_unique],
  ['CLICK_COUNT_MACHINE', 'int', r.machine_clicks],
  ['CLICK_COUNT_U_MACHINE', 'int', r.machine_clicks_unique],
];

/** mailkit.report: one campaign's counts. */
export function reportFields(r: SendReportRow): Field[] {
  return [
    ['ID_MESSAGE', 'int', r.mailing_id],
    ['NAME', 'text', r.name ?? r.subject],
    ['SEND_COUNT', 'int', r.sent],
    ['DELIVERED_COUNT', 'int', r.delivered],
    ['READ_COUNT', 'int', r.opens],
    ['READ_COUNT_U', 'int', r.opens_unique],
    ['CLICK_COUNT', 'int', r.clicks],
    ['CLICK_COUNT_U', 'int', r.clicks_unique],
    ['CLICK_RATE', 'text', pct(r.clicks_unique, r.delivered)],
    ...machineFields(r),
  ];
}

/**
 * mailkit.report.campaign: one send. Forwards, prints and conversions are not tracked by Mailgate: 0.
 */
export function campaignReportFields(r: SendReportRow): Field[] {
  const from = r.from_name ? `${r.from_name} <${r.from_email}>` : r.from_email;
  return [
    ['ID_SEND', 'int', r.send_id],
    ['SUBJECT', 'text', r.subject],
    ['DATE', 'text', mkDate(r.started_at)],
    ['DATE2', 'text', mkDate(r.finished_at)],
    ['FROM', 'text', from],
    ['SEND_COUNT', 'int', r.sent],
    ['DELIVERED_COUNT', 'int', r.delivered],
    ['BOUNCE_COUNT', 'int', r.bounced],
    ['READ_COUNT', 'int', r.opens],
    ['READ_COUNT_U', 'int', r.opens_unique],
    ['CLICK_COUNT', 'int', r.clicks],
    ['CLICK_COUNT_U', 'int', r.clicks_unique],
    ['CLICK_RATE', 'text', pct(r.clicks_unique, r.delivered)],
    ['CLICK_RATE2', 'text', pct(r.clicks_unique, r.opens_unique)],
    ['UNSUBSCRIBE', 'int', r.unsubscribed],
    ['SPAM_REPORT', 'int', r.complained],
    ['FORWARD_COUNT', 'int', 0],
    ['PRINT_COUNT', 'int', 0],
    ['CONVERSION_COUNT', 'int', 0],
    ['CONVERSION_COUNT_U', 'int', 0],
    ...machineFields(r),
  ];
}

/** The mailing's send status as a Mailkit campaign status word. */
const CAMPAIGN_STATUS: Record<MailingView['status'], string> = { filling: 'draft', ready: 'scheduled', running: 'sending', paused: 'paused', finished: 'sent' };

/**
 * mailkit.campaigns.list: one campaign, typed as its clients' models read it (ID_MESSAGE an integer,
 * USER_LIST a list of ids, the flags booleans).
 */
export function campaign(m: MailingView): Record<string, unknown> {
  return {
    ID_MESSAGE: m.id,
    NAME: m.name ?? m.subject,
    SUBJECT: m.subject,
    SUBJECT_B: '',
    MSG_TYPE: m.hasHtml ? 'html' : 'text',
    CAMPAIGN_TYPE: m.dontCloseIfEmpty ? 'transactional' : 'regular',
    USE_AB: false,
    TEST_MODE: m.testing,
    SEND_DATE: mkDate(m.startTime ?? m.scheduledStart),
    TIME_ZONE: 'UTC',
    LAST_SENT: mkDate(m.endTime),
    REPEAT: false,
    REPEAT_COUNT: 0,
    PERIOD: '',
    DAYS: '',
    STATUS: CAMPAIGN_STATUS[m.status],
    TYPE: m.type,
    USER_LIST: m.listId === null ? [] : [m.listId],
  };
}

/** mailkit.mailinglist.list: one list (ID_USER_LIST an integer in both encodings, DESCRIPTION always a string). */
export function mailingList(l: ListRow): Record<string, unknown> {
  return { ID_USER_LIST: l.id, NAME: l.name, STATUS: 'enabled', DESCRIPTION: l.description ?? '' };
}

/** Mailkit's address status words, from the suppression or the subscriber. */
function addressStatusWord(sub: SubscriberRow | undefined, suppression: SuppressionRow | null): string {
  if (suppression) return suppression.reason === 'hard_bounce' ? 'permanent' : suppression.reason === 'manual' ? 'disabled' : 'unsubscribe';
  if (!sub) return 'unknown';
  return sub.enabled && sub.status === 'active' ? 'enabled' : sub.status === 'unsubscribed' ? 'unsubscribe' : 'disabled';
}

/**
 * mailkit.email.getstatus: one record for the address (the client reads exactly one), from its most recently
 * changed subscription; ID_EMAIL an integer, every other value a string (null for an unset custom field in
 * JSON, as the current mock shows).
 */
export function addressStatus(email: string, subs: readonly SubscriberRow[], suppression: SuppressionRow | null, encoding: Encoding): Record<string, unknown> {
  const sub = [...subs].sort((a, b) => b.modified_at.getTime() - a.modified_at.getTime())[0];
  const p = sub?.params ?? {};
  const out: Record<string, unknown> = {};
  for (const name of ['vocative', 'prefix', 'first_name', 'last_name', 'nick_name', 'gender']) out[name.toUpperCase()] = text(p[name]);
  out.EMAIL = sub?.email ?? email;
  out.ID_EMAIL = sub?.id ?? 0;
  out.ID_MAILING_LIST = sub?.list_id ?? 0;
  for (const name of ['reply_to', 'phone', 'fax', 'mobile', 'company', 'street', 'city', 'country', 'zip', 'state']) out[name.toUpperCase()] = text(p[name]);
  out.DATE = mkDate(sub?.created_at);
  out.CHANGE_DATE = mkDate(sub?.modified_at ?? suppression?.created_at);
  out.STATUS = addressStatusWord(sub, suppression);
  for (let n = 1; n <= 25; n++) {
    const v = p[`custom${n}`] ?? p[`custom_${n}`];
    out[`CUSTOM_${n}`] = v === undefined || v === null ? (encoding === 'json' ? null : '') : text(v);
  }
  return out;
}

/**
 * mailkit.report.message.links: one clicked link of a send, members in the real reply's order, its integers
 * numbers in JSON too (as the real reply has them). Titles and anchors are not known (tracking sees the URL
 * only); conversions are not tracked (0).
 */
export function linkFields(l: SendLink): Field[] {
  return [
    ['TITLE', 'text', ''],
    ['TITLE_SHORT', 'text', ''],
    ['ANCHOR', 'text', ''],
    ['URL', 'text', l.url],
    ['ID_URL', 'int', l.id],
    ['AB_VERSION', 'text', ''],
    ['CLICK', 'int', l.clicks],
    ['VISIT', 'int', l.visits],
    ['CONVERSION', 'int', 0],
  ];
}

/** The core's response kinds as raw.responses' `type`. */
const RESPONSE_TYPE: Record<ResponseKind, string> = { open: 'read', click: 'click', unsubscribe: 'unsubscribe', complaint: 'complaint' };

/**
 * mailkit.report.raw.responses: one response, the fields of the real reply (lower-case names, as the raw
 * message log's). What Mailgate does not know (A/B version, link texts, referer, unsubscribe answers, geo and
 * browser data) is empty; IP and user agent are the request's, when tracking recorded them.
 */
export function responseFields(r: Response): Field[] {
  const domain = domainOf(r.email);
  return [
    ['date', 'text', mkDate(r.created_at)],
    ['email', 'text', r.email],
    ['ID_email', 'int', r.email_id],
    ['ID_user_list', 'int', r.list_id],
    ['ID_message', 'int', r.mailing_id],
    ['ID_send', 'int', r.send_id],
    ['ID_send_message', 'int', r.recipient_id],
    ['ID_log', 'int', r.id],
    ['ab_version', 'text', ''],
    ['domain', 'text', domain],
    ['tld', 'text', domain.slice(domain.lastIndexOf('.') + 1)],
    ['type', 'text', RESPONSE_TYPE[r.kind]],
    ['ID_url', 'int', r.link_id],
    ['link_type', 'text', ''],
    ['link_url', 'text', r.kind === 'click' ? r.link : ''],
    ['link_text', 'text', ''],
    ['link_title', 'text', ''],
    ['referer', 'text', ''],
    ['unsubscribe_answer', 'text', ''],
    ['IP', 'text', r.ip],
    ['IP_orig', 'text', r.ip],
    ...['continent', 'country', 'code3', 'code', 'region', 'region_code', 'city'].map((n): Field => [n, 'text', '']),
    ['user_agent', 'text', r.user_agent],
    ...['browser', 'browser_major', 'browser_minor', 'browser_type', 'os', 'os_version', 'device', 'org'].map((n): Field => [n, 'text', '']),
    // Mailgate's: an open's or a click's verdict (human or machine) and a machine one's reason; empty otherwise.
    ['verdict', 'text', r.verdict ?? (r.kind === 'open' || r.kind === 'click' ? 'human' : '')],
    ['verdict_reason', 'text', r.verdict_reason ?? ''],
  ];
}

/** mailkit.mailinglist.unsubscribed: one address unsubscribed from the whole account (no unsubscribe group). */
export function unsubscribedFields(u: UnsubscribedRow): Field[] {
  return [
    ['DATE', 'text', mkDate(u.created_at)],
    ['ID_UNSUBSCRIBE_GROUP', 'text', ''],
    ['EMAIL', 'text', u.email],
  ];
}

/** mailkit.mailinglist.engagement: one subscriber's messages, opens and clicks (the caller adds the list). */
export function engagementFields(e: EngagementRow): Field[] {
  return [
    ['ID_EMAIL', 'int', e.id],
    ['EMAIL', 'text', e.email],
    ['SEND_COUNT', 'int', e.sent],
    ['DELIVERED_COUNT', 'int', e.delivered],
    ['READ_COUNT', 'int', e.opens],
    ['READ_COUNT_U', 'int', e.opens_unique],
    ['CLICK_COUNT', 'int', e.clicks],
    ['CLICK_COUNT_U', 'int', e.clicks_unique],
    ['LAST_READ', 'text', mkDate(e.last_open)],
    ['LAST_CLICK', 'text', mkDate(e.last_click)],
    ...machineFields(e),
  ];
}

/**
 * mailkit.profile.emails.list: the account's sender addresses under `emails`, each with the ID_ALLOW_EMAIL
 * that mailkit.campaigns.create takes (an integer in both encodings: the XML clients read it as the `<i4>`).
 */
export function senderAddresses(senders: readonly SenderAddress[]): { emails: Record<string, unknown>[] } {
  return { emails: senders.map((s) => ({ ID_ALLOW_EMAIL: s.id, EMAIL: s.email })) };
}
