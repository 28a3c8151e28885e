/**
 * Reading CloudMailing's values as the original server (ricard33/cloud-mailing) reads them: texts as strings
 * or as base64 values in a charset (Python 3 clients send bytes so), dates as dateTime values or ISO 8601
 * strings, booleans and integers inside properties as Python's bool() and int() would read them. A value
 * inside a struct (properties, filters, recipients) is refused with 406 in the original's words.
 */
import iconv from 'iconv-lite';
import { isValidEmail } from '../../core/email.js';
import type { MailingFilter, MailingPatch } from '../../core/mailings/service.js';
import type { Attachment, RecipientInput } from '../../core/recipients/service.js';
import type { RecipientStatus } from '../../core/statuses.js';
import { intsOf, isStruct, pyBool, pyInt, stringsOf, wireText, wireType, type RpcStruct, type RpcValue } from '../../rpc/values.js';
import { parseIso8601Utc } from '../../rpc/xmlrpc.js';
import { fail, notAcceptable } from './errors.js';
import { WIRE_MAILING_STATUSES, WIRE_RECIPIENT_STATUSES, mailingStatusFromWire, recipientStatusesFromWire } from './serializers.js';

const CHARSET = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;

// ------------------------------------------------------------------------------------------- value helpers

/** The seed's sender `my-mailing@%example.org`: a `%` right after the `@` is dropped (the address is otherwise invalid). */
export function senderAddress(v: string): string {
  return v.replace(/@%+/, '@');
}

/** A text argument: a string, or a base64 value holding text in `charset` (Python 3 clients send bytes so). */
export function textOf(v: RpcValue | undefined, charset: string, what: string): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) {
    if (!iconv.encodingExists(charset)) throw notAcceptable(`Unknown charset '${String(charset).slice(0, 40)}'`);
    return iconv.decode(v, charset);
  }
  throw notAcceptable(`'${what}' must be a string`);
}

/** A dateTime, an ISO 8601 string (Python's isoformat() included), or a false value to clear. */
export function dateOrClear(v: RpcValue | undefined, name: string): Date | null {
  if (v instanceof Date) return v;
  if (!pyBool(v)) return null;
  if (typeof v === 'string') {
    try {
      return parseIso8601Utc(v.trim().replace(' ', 'T'));
    } catch {
      /* refused below */
    }
  }
  throw notAcceptable(`Bad value for '${name}': a dateTime.iso8601 or an ISO 8601 string is expected (or '' to clear)`);
}

function minutesOf(v: RpcValue | undefined, name: string): number {
  const n = pyInt(v);
  if (n === undefined || n < 0) throw notAcceptable(`Bad value for '${name}': a number of minutes is expected`);
  return n;
}

/** Nested personalization values as JSON: dates as ISO strings, binaries as base64. */
function jsonValue(v: RpcValue): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(jsonValue);
  const out: Record<string, unknown> = {};
  for (const k in v) setMember(out, k, jsonValue(v[k]!));
  return out;
}

/** `out[k] = value`, but a key such as `__proto__` stays data (assignment would replace the prototype). */
function setMember(out: Record<string, unknown>, k: string, value: unknown): void {
  if (k in Object.prototype) Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  else out[k] = value;
}
/** create_mailing's charset (default utf-8): a charset name iconv knows. */
export function charsetOf(v: RpcValue | undefined): string {
  const cs = (v as string | undefined) || 'utf-8';
  if (!CHARSET.test(cs) || !iconv.encodingExists(cs)) throw notAcceptable(`Unknown charset '${cs.slice(0, 40)}'`);
  return cs;
}

/** get_hourly_statistics' filter: from_date (required) and to_date. */
export function hourRange(filter: RpcStruct): { from: Date; to: Date | null } {
  const from = filter.from_date instanceof Date || typeof filter.from_date === 'string' ? dateOrClear(filter.from_date, 'from_date') : null;
  if (!from) throw notAcceptable("Filter 'from_date' has to be a dateTime.iso8601.");
  return { from, to: dateOrClear(filter.to_date, 'to_date') };
}

// ------------------------------------------------------------------------------------------------ properties

const DKIM_FIELDS = ['enabled', 'selector', 'domain', 'privkey', 'identity', 'canonicalize', 'signature_algorithm', 'include_headers', 'length'];
const DKIM_REQUIRED = ['selector', 'domain', 'privkey'];

function dkimOf(v: RpcValue | undefined): MailingPatch['dkim'] {
  if (v === null || v === '' || v === undefined) return null;
  if (!isStruct(v)) throw notAcceptable(`Bad value for property 'dkim'. It should be a dictionary.`);
  for (const k of Object.keys(v))
    if (!DKIM_FIELDS.includes(k))
      throw notAcceptable(`Bad value for property 'dkim'. Field '${k.slice(0, 60)}' is not allowed (allowed fields are ${DKIM_FIELDS.join(', ')}).`);
  for (const k of DKIM_REQUIRED)
    if (typeof v[k] !== 'string' || !v[k])
      throw notAcceptable(`Bad value for property 'dkim'. Field '${k}' is missing (mandatory fields are ${DKIM_REQUIRED.join(', ')}).`);
  const opt = (k: string) => (typeof v[k] === 'string' && v[k] ? { [k]: v[k] } : {});
  const headers = stringsOf(v.include_headers);
  return {
    enabled: v.enabled === undefined ? true : pyBool(v.enabled),
    selector: v.selector as string,
    domain: v.domain as string,
    privkey: v.privkey as string,
    ...opt('identity'),
    ...opt('canonicalize'),
    ...opt('signature_algorithm'),
    ...(v.include_headers !== undefined && headers ? { include_headers: headers } : {}),
    ...(pyInt(v.length) !== undefined ? { length: pyInt(v.length)! } : {}),
  };
}

/** set_mailing_properties: wire property names to the core's MailingPatch. */
export function mailingPatch(props: RpcStruct): MailingPatch {
  const patch: MailingPatch = {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(props, k);
  const charset = has('charset') ? props.charset : undefined;
  const optionalText = (v: RpcValue | undefined, name: string) => (v === null || v === '' ? null : textOf(v, 'utf-8', name));
  for (const [name, v] of Object.entries(props)) {
    switch (name) {
      case 'type':
        if (v !== 'REGULAR' && v !== 'OPENED')
          throw notAcceptable(`Bad value '${wireText(v).slice(0, 40)}' for Property type. Acceptable values are (REGULAR, OPENED)`);
        patch.type = v === 'OPENED' ? 'opened' : 'regular';
        break;
      case 'mail_from':
        patch.fromEmail = senderAddress(textOf(v, 'utf-8', name));
        break;
      case 'sender_name':
      case 'shown_name': // deprecated alias
        patch.fromName = optionalText(v, name);
        break;
      case 'tracking_url': {
        const url = optionalText(v, name);
        if (url !== null && (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)))
          throw notAcceptable(`Bad value for 'tracking_url': an http(s) URL is expected`);
        patch.trackingUrl = url;
        break;
      }
      case 'owner_guid':
        patch.ownerGuid = optionalText(v, name);
        break;
      case 'satellite_group':
        patch.satelliteGroup = optionalText(v, name);
        break;
      case 'url_encoding':
        patch.urlEncoding = optionalText(v, name);
        break;
      case 'testing':
        patch.testing = pyBool(v);
        break;
      case 'backup_customized_emails':
        patch.backupCustomizedEmails = pyBool(v);
        break;
      case 'dont_close_if_empty':
        patch.dontCloseIfEmpty = pyBool(v);
        break;
      case 'read_tracking':
        patch.readTracking = pyBool(v);
        break;
      case 'click_tracking':
        patch.clickTracking = pyBool(v);
        break;
      case 'scheduled_start':
        patch.scheduledStart = dateOrClear(v, name);
        break;
      case 'scheduled_end':
        patch.scheduledEnd = dateOrClear(v, name);
        break;
      case 'scheduled_duration':
        patch.maxDurationMinutes = minutesOf(v, name);
        break;
      case 'spread_minutes': // Mailgate's own: spread first tries evenly over this many minutes
        patch.spreadMinutes = minutesOf(v, name);
        break;
      case 'dkim':
        patch.dkim = dkimOf(v);
        break;
      case 'header':
        if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw notAcceptable(`Bad value for 'header': a string is expected`);
        patch.headerBlock = v;
        break;
      case 'body':
        if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw notAcceptable(`Bad value for 'body': a string is expected`);
        patch.body = v;
        break;
      case 'subject':
      case 'html_content':
      case 'plain_content': {
        if (charset === undefined) {
          throw notAcceptable("Missing charset field. This field is mandatory for 'subject', 'html_content' and 'plain_content' fields.");
        }
        const text = textOf(v, typeof charset === 'string' ? charset : 'utf-8', name);
        if (name === 'subject') patch.subject = text;
        else if (name === 'html_content') patch.html = text;
        else patch.text = text;
        break;
      }
      case 'charset':
        if (typeof v !== 'string' || !CHARSET.test(v)) throw notAcceptable(`Bad value for 'charset': not a charset name`);
        patch.charset = v;
        break;
      default:
        throw notAcceptable(`Property '${name.slice(0, 100)}' is unknown or can't be changed.`);
    }
  }
  return patch;
}
// ----------------------------------------------------------------------------------------------------- filters

const MAILING_FILTERS = ['domain', 'id', 'status', 'owner_guid', 'satellite_group'];

export function mailingFilter(f: RpcValue | undefined): MailingFilter {
  if (f === undefined || f === '' || f === null) return {};
  if (typeof f === 'string') return { domains: [f.replace(/^%/, '')] }; // the original's bare-domain form
  if (!isStruct(f)) throw notAcceptable('Filters argument has to be a dictionary.');
  for (const key of Object.keys(f))
    if (!MAILING_FILTERS.includes(key)) throw notAcceptable(`Bad filter name. Available filters are: ${MAILING_FILTERS.join(', ')}`);
  const strings = (k: string) => stringsOf(f[k]) ?? fail(`Filter '${k}' has to be a string or an array of strings.`);
  const out: MailingFilter = {};
  if (f.domain !== undefined) out.domains = strings('domain').map((d) => d.replace(/^%/, ''));
  if (f.id !== undefined) out.ids = intsOf(f.id) ?? fail("Filter 'id' has to be an array of integers.");
  if (f.status !== undefined) {
    out.statuses = strings('status').map(
      (w) => mailingStatusFromWire(w) ?? fail(`Bad status '${w.slice(0, 40)}'. Available status are: ${WIRE_MAILING_STATUSES.join(', ')}`),
    );
  }
  if (f.owner_guid !== undefined) out.ownerGuids = strings('owner_guid');
  if (f.satellite_group !== undefined) out.satelliteGroups = strings('satellite_group');
  return out;
}

/** A recipient filter as given: statuses (core and wire), and the three ways of naming mailings. */
export interface RecipientFilterWire {
  statuses?: { core: RecipientStatus[]; wire: Set<string> } | undefined;
  mailings?: number[] | undefined;
  owners?: string[] | undefined;
  senderDomains?: string[] | undefined;
}

function statusFilter(v: RpcValue | undefined): RecipientFilterWire['statuses'] {
  if (v === undefined || v === null || (Array.isArray(v) && !v.length)) return undefined;
  if (!Array.isArray(v)) throw notAcceptable("Parameter 'only_status' has to be an array of strings.");
  const core = new Set<RecipientStatus>();
  for (const w of v) {
    const s = typeof w === 'string' ? recipientStatusesFromWire(w) : undefined;
    if (!s) throw notAcceptable(`Parameter 'only_status' has invalid status. Valid values are (${WIRE_RECIPIENT_STATUSES.join(', ')})`);
    for (const x of s) core.add(x);
  }
  return { core: [...core], wire: new Set(v as string[]) };
}

/**
 * A recipient filter: `status`, and `mailings`, `owners`, `sender_domains`, which select mailings as a
 * union (the original adds the mailings of the owners and domains to the `mailings` list). Unknown keys are
 * ignored, as the original ignores them.
 */
export function recipientFilter(f: RpcValue | undefined): RecipientFilterWire {
  if (f === undefined || f === null || f === '') return {};
  if (Array.isArray(f)) return { statuses: statusFilter(f) }; // Mailgate: a bare array is a status list (the seed sends one)
  if (!isStruct(f)) throw notAcceptable('The filter has to be a struct.');
  const list = (k: string, what: string) => {
    if (f[k] === undefined || f[k] === null) return undefined;
    if (!Array.isArray(f[k])) throw notAcceptable(`Filter '${k}' has to be ${what}.`);
    return f[k];
  };
  const mailings = list('mailings', 'an array of mailing_ids');
  const owners = list('owners', 'an array of strings');
  const domains = list('sender_domains', 'an array of strings');
  return {
    mailings: mailings ? (intsOf(mailings) ?? fail("Filter 'mailings' has to be an array of mailing_ids.")) : undefined,
    owners: owners ? (stringsOf(owners) ?? fail("Filter 'owners' has to be an array of strings.")) : undefined,
    senderDomains: domains ? (stringsOf(domains) ?? fail("Filter 'sender_domains' has to be an array of strings.")) : undefined,
    statuses: statusFilter(f.status),
  };
}
// -------------------------------------------------------------------------------------------------- recipients

function attachmentsOf(v: RpcValue | undefined): Attachment[] | string {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return "'attachments' has to be an array of structs";
  const out: Attachment[] = [];
  for (const a of v) {
    if (!isStruct(a)) return "'attachments' has to be an array of structs";
    if (a['content-id'] !== undefined) return "'content-id' not yet supported for attachments!";
    if (a.url !== undefined) return "'url' not yet supported for attachments!";
    const type = a['content-type'];
    if (typeof type !== 'string') return "Field 'content-type' is mandatory for attachments!";
    if (type.split('/')[0] === 'text' && typeof a.charset !== 'string') return "Field 'charset' is mandatory for 'text/*' attachments!";
    const data = Buffer.isBuffer(a.data) ? a.data.toString('base64') : a.data;
    if (typeof data !== 'string') return "Field 'data' is mandatory for attachments!";
    out.push({
      contentType: type,
      data,
      ...(typeof a.filename === 'string' ? { filename: a.filename } : {}),
      ...(typeof a.charset === 'string' ? { charset: a.charset } : {}),
    });
  }
  return out;
}

/** One wire recipient to the core's input, or the original's error for it. */
export function recipientInput(item: RpcValue, index: number): RecipientInput | { email?: unknown; error: string } {
  if (!isStruct(item) || item.email === undefined) return { error: `'email' field is mandatory but not found in recipient [${index}]` };
  if (!isValidEmail(item.email)) return { email: item.email, error: `'email' field is not a regular email address: '${wireText(item.email).slice(0, 254)}'` };
  const attachments = attachmentsOf(item.attachments);
  if (typeof attachments === 'string') return { email: item.email, error: attachments };
  const trackingId = typeof item.tracking_id === 'number' ? String(item.tracking_id) : item.tracking_id;
  // The usual recipient, scalars only and neither key to leave out, is its own fields: no copy of it per row.
  let plain = true;
  for (const k in item) {
    if (k.length > 200) return { email: item.email, error: `field name too long: ${k.slice(0, 40)}...` };
    const v = item[k];
    if (k === 'tracking_id' || k === 'attachments' || (typeof v === 'object' && v !== null)) plain = false;
  }
  if (plain) return { email: item.email, trackingId, attachments, fields: item };
  const fields: Record<string, unknown> = {};
  for (const k in item) {
    if (k === 'tracking_id' || k === 'attachments') continue;
    setMember(fields, k, jsonValue(item[k]!));
  }
  return { email: item.email, trackingId, attachments, fields };
}

export function recipientIds(v: RpcValue | undefined): string[] {
  return (v as RpcValue[]).map((x) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : fail('recipient ids are strings')));
}

export interface StatusOptions {
  contact: boolean;
  deleteCustomized: boolean;
}

export function statusOptions(v: RpcValue | undefined): StatusOptions {
  if (v === undefined || v === null || v === '') return { contact: false, deleteCustomized: false };
  if (!isStruct(v)) throw notAcceptable('options has to be a struct');
  return { contact: pyBool(v.with_contact_data), deleteCustomized: pyBool(v.delete_customized_content) };
}

const BASE64_TEXT = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/**
 * create_mailing_ext's payload: base64 text of the message, as a string or as a base64 value holding that
 * text (Python 3's `base64.b64encode(message_bytes)` arrives so, encoded twice). A base64 value that holds
 * the message itself is a Mailgate extension.
 */
export function messageOf(payload: RpcValue): Buffer {
  const bytes = Buffer.isBuffer(payload)
    ? payload
    : typeof payload === 'string'
      ? Buffer.from(payload, 'latin1')
      : fail(`'rfc822_string' must be a string, got ${wireType(payload)}`);
  const text = bytes.toString('latin1');
  return BASE64_TEXT.test(text) ? Buffer.from(text, 'base64') : bytes;
}
