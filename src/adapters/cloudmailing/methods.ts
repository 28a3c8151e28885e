/**
 * The CloudMailing method table, as the original server (ricard33/cloud-mailing, xmlrpc_api.py and
 * api_common.py) behaves. Handlers map wire values to core calls; values inside structs (properties,
 * filters, recipients) are refused with 406 in the original's words. Booleans and integers inside
 * properties are read as Python's bool() and int() would read them.
 */
import iconv from 'iconv-lite';
import { isValidEmail } from '../../core/email.js';
import { isDomainError } from '../../core/errors.js';
import type { MailingFilter, MailingPatch } from '../../core/mailings/service.js';
import type { Attachment, RecipientInput, RecipientRow } from '../../core/recipients/service.js';
import type { RecipientStatus } from '../../core/statuses.js';
import { Fault } from '../../rpc/faults.js';
import { ANY_TYPE, P, type MethodCtx, type MethodTable } from '../../rpc/methods.js';
import { intsOf, isStruct, pyBool, pyInt, stringsOf, wireType, type RpcStruct, type RpcValue } from '../../rpc/values.js';
import { parseIso8601Utc } from '../../rpc/xmlrpc.js';
import type { AdapterDeps } from '../types.js';
import { DOMAIN_FAULT_CODES, notAcceptable } from './errors.js';
import {
  IN_PROGRESS,
  MAILING_STATUS_WORDS,
  RECIPIENT_STATUS_WORDS,
  WIRE_MAILING_STATUSES,
  WIRE_RECIPIENT_STATUSES,
  hourlyStatStruct,
  mailingStatusFromWire,
  mailingStruct,
  recipientStatusWord,
  recipientStatusesFromWire,
  recipientStruct,
  satelliteStruct,
} from './serializers.js';

type Ctx = MethodCtx<AdapterDeps>;

const DIALECT = 'cloudmailing';
const CHARSET = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;

// ------------------------------------------------------------------------------------------- value helpers

/** The seed's sender `my-mailing@%example.org`: a `%` right after the `@` is dropped (the address is otherwise invalid). */
export function senderAddress(v: string): string {
  return v.replace(/@%+/, '@');
}

/** A text argument: a string, or a base64 value holding text in `charset` (Python 3 clients send bytes so). */
function textOf(v: RpcValue | undefined, charset: string, what: string): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) {
    if (!iconv.encodingExists(charset)) throw notAcceptable(`Unknown charset '${String(charset).slice(0, 40)}'`);
    return iconv.decode(v, charset);
  }
  throw notAcceptable(`'${what}' must be a string`);
}

/** A dateTime, an ISO 8601 string (Python's isoformat() included), or a false value to clear. */
function dateOrClear(v: RpcValue | undefined, name: string): Date | null {
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

// ------------------------------------------------------------------------------------------------ properties

const DKIM_FIELDS = ['enabled', 'selector', 'domain', 'privkey', 'identity', 'canonicalize', 'signature_algorithm', 'include_headers', 'length'];
const DKIM_REQUIRED = ['selector', 'domain', 'privkey'];

function dkimOf(v: RpcValue | undefined): MailingPatch['dkim'] {
  if (v === null || v === '' || v === undefined) return null;
  if (!isStruct(v)) throw notAcceptable(`Bad value for property 'dkim'. It should be a dictionary.`);
  for (const k of Object.keys(v)) if (!DKIM_FIELDS.includes(k)) throw notAcceptable(`Bad value for property 'dkim'. Field '${k.slice(0, 60)}' is not allowed (allowed fields are ${DKIM_FIELDS.join(', ')}).`);
  for (const k of DKIM_REQUIRED) if (typeof v[k] !== 'string' || !v[k]) throw notAcceptable(`Bad value for property 'dkim'. Field '${k}' is missing (mandatory fields are ${DKIM_REQUIRED.join(', ')}).`);
  const opt = (k: string) => (typeof v[k] === 'string' && v[k] ? { [k]: v[k] as string } : {});
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
        if (v !== 'REGULAR' && v !== 'OPENED') throw notAcceptable(`Bad value '${String(v).slice(0, 40)}' for Property type. Acceptable values are (REGULAR, OPENED)`);
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
        if (url !== null && (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))) throw notAcceptable(`Bad value for 'tracking_url': an http(s) URL is expected`);
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

function mailingFilter(f: RpcValue | undefined): MailingFilter {
  if (f === undefined || f === '' || f === null) return {};
  if (typeof f === 'string') return { domains: [f.replace(/^%/, '')] }; // the original's bare-domain form
  if (!isStruct(f)) throw notAcceptable('Filters argument has to be a dictionary.');
  for (const key of Object.keys(f)) if (!MAILING_FILTERS.includes(key)) throw notAcceptable(`Bad filter name. Available filters are: ${MAILING_FILTERS.join(', ')}`);
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

function fail(message: string): never {
  throw notAcceptable(message);
}

interface RecipientFilterWire {
  statuses?: { core: RecipientStatus[]; wire: Set<string> } | undefined;
  mailingIds?: number[] | undefined;
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
async function recipientFilter(ctx: Ctx, f: RpcValue | undefined): Promise<RecipientFilterWire> {
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
  let mailingIds: number[] | undefined;
  if (mailings || owners || domains) {
    const ids = new Set<number>(mailings ? (intsOf(mailings) ?? fail("Filter 'mailings' has to be an array of mailing_ids.")) : []);
    const select = async (filter: MailingFilter) => (await ctx.deps.core.mailings.ids(ctx.call, filter)).forEach((id) => ids.add(id));
    if (owners) await select({ ownerGuids: stringsOf(owners) ?? fail("Filter 'owners' has to be an array of strings.") });
    if (domains) await select({ domains: stringsOf(domains) ?? fail("Filter 'sender_domains' has to be an array of strings.") });
    mailingIds = [...ids];
  }
  return { statuses: statusFilter(f.status), mailingIds };
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
function recipientInput(item: RpcValue, index: number): RecipientInput | { email?: unknown; error: string } {
  if (!isStruct(item) || item.email === undefined) return { error: `'email' field is mandatory but not found in recipient [${index}]` };
  if (!isValidEmail(item.email)) return { email: item.email, error: `'email' field is not a regular email address: '${String(item.email).slice(0, 254)}'` };
  const attachments = attachmentsOf(item.attachments);
  if (typeof attachments === 'string') return { email: item.email, error: attachments };
  const fields: Record<string, unknown> = {};
  for (const k in item) {
    if (k === 'tracking_id' || k === 'attachments') continue;
    if (k.length > 200) return { email: item.email, error: `field name too long: ${k.slice(0, 40)}...` };
    setMember(fields, k, jsonValue(item[k]!));
  }
  const trackingId = typeof item.tracking_id === 'number' ? String(item.tracking_id) : item.tracking_id;
  return { email: item.email, trackingId, attachments, fields };
}

async function addRecipients({ call, deps }: Ctx, args: (RpcValue | undefined)[], test: boolean) {
  const id = args[0] as number;
  const items = args[1] as RpcValue[];
  const max = deps.config.MAX_RECIPIENTS_PER_CALL;
  if (items.length > max) {
    throw new Fault(DOMAIN_FAULT_CODES.BAD_REQUEST, `Too many recipients in one call: ${items.length} (at most ${max}); split them over several calls`, 400);
  }
  const converted = items.map(recipientInput);
  const valid = converted.filter((c): c is RecipientInput => !('error' in c));
  const results = await (test ? deps.core.recipients.sendTest : deps.core.recipients.add)(call, id, valid);
  let next = 0;
  return converted.map((c) => {
    const r = 'error' in c ? c : results[next++]!;
    if ('id' in r) return { email: r.email, id: r.id, tracking_id: r.id };
    return r.email === undefined ? { error: r.error } : { email: r.email, error: r.error };
  });
}

function recipientIds(v: RpcValue | undefined): string[] {
  return (v as RpcValue[]).map((x) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : fail('recipient ids are strings')));
}

interface StatusOptions {
  contact: boolean;
  deleteCustomized: boolean;
}

function statusOptions(v: RpcValue | undefined): StatusOptions {
  if (v === undefined || v === null || v === '') return { contact: false, deleteCustomized: false };
  if (!isStruct(v)) throw notAcceptable('options has to be a struct');
  return { contact: pyBool(v.with_contact_data), deleteCustomized: pyBool(v.delete_customized_content) };
}

/** Status structs, with each recipient's kept message when its mailing keeps them (backup_customized_emails). */
async function statusStructs(ctx: Ctx, rows: RecipientRow[], o: StatusOptions) {
  const kept = await ctx.deps.core.recipients.customizedMessages(ctx.call, rows.map((r) => r.id), o.deleteCustomized);
  return rows.map((r) => recipientStruct(r, { contact: o.contact, customized: kept.get(r.id) }));
}

// ---------------------------------------------------------------------------------------------------- the table

const ID = P('mailing_id', 'int');
const TEXT = ['string', 'base64'] as const;

export const METHODS: MethodTable<AdapterDeps> = {
  create_mailing: {
    params: [P('mail_from', 'string'), P('sender_name', [...TEXT]), P('subject', [...TEXT]), P('html_content', [...TEXT]), P('plain_content', [...TEXT], true), P('charset', 'string', true)],
    returns: 'int',
    help: 'Creates a new mailing and returns its id. Texts are strings or base64 values in charset (default utf-8). An empty plain_content is made from html_content.',
    async handler({ call, deps }, [mailFrom, senderName, subject, html, plain, charset]) {
      const cs = (charset as string | undefined) || 'utf-8';
      if (!CHARSET.test(cs) || !iconv.encodingExists(cs)) throw notAcceptable(`Unknown charset '${cs.slice(0, 40)}'`);
      return await deps.core.mailings.create(call, {
        dialect: DIALECT,
        fromEmail: senderAddress(mailFrom as string),
        fromName: textOf(senderName, cs, 'sender_name') || null,
        subject: textOf(subject, cs, 'subject'),
        html: textOf(html, cs, 'html_content') || null,
        text: plain === undefined ? null : textOf(plain, cs, 'plain_content') || null,
        charset: cs,
      });
    },
  },
  create_mailing_ext: {
    params: [P('rfc822_string', [...TEXT])],
    returns: 'int',
    help: 'Creates a new mailing from a whole RFC 822 message encoded in base64 (a string, or a base64 value holding that text), and returns its id. Mailgate also takes the message itself as a base64 value.',
    handler: async ({ call, deps }, [payload]) => await deps.core.mailings.createFromMessage(call, DIALECT, messageOf(payload!)),
  },
  set_mailing_properties: {
    params: [ID, P('properties', 'struct')],
    returns: 'int',
    help:
      "Changes properties of a mailing, until it is FINISHED (fault 403). Properties: type (REGULAR|OPENED), mail_from, sender_name (shown_name), tracking_url, owner_guid, satellite_group, scheduled_start, scheduled_end (dateTime, ISO string, or '' to clear), scheduled_duration (the mailing's maximum duration in minutes from its actual start; 0 removes it), dont_close_if_empty, subject, html_content, plain_content, charset (required with the three before it), read_tracking, click_tracking, backup_customized_emails, testing (messages go to the built-in capture), url_encoding, dkim {enabled, selector, domain, privkey, ...}, header (a whole header block), body; Mailgate's own: spread_minutes (spread first tries over that many minutes). Unknown property: fault 406. Returns 0.",
    async handler({ call, deps }, [id, props]) {
      await deps.core.mailings.setProperties(call, id as number, mailingPatch(props as RpcStruct));
      return 0;
    },
  },
  start_mailing: {
    params: [ID, P('when', ['dateTime.iso8601', 'string', 'int'], true)],
    returns: 'string',
    help: 'Starts a mailing (FILLING_RECIPIENTS becomes READY; the manager makes it RUNNING when its scheduled_start is reached) or resumes a paused one. Returns the new status. `when` is accepted and ignored, as in the original.',
    handler: async ({ call, deps }, [id]) => MAILING_STATUS_WORDS[await deps.core.mailings.start(call, id as number)],
  },
  pause_mailing: {
    params: [ID],
    returns: 'string',
    help: 'Pauses a READY, RUNNING or PAUSED mailing (else fault 406); returns PAUSED.',
    async handler({ call, deps }, [id]) {
      try {
        return MAILING_STATUS_WORDS[await deps.core.mailings.pause(call, id as number)];
      } catch (e) {
        // The original refuses to pause with 406 "not acceptable", not 403.
        if (isDomainError(e) && e.code === 'FORBIDDEN_STATE') throw notAcceptable(`Bad mailing status. Can't pause it! (${e.message})`);
        throw e;
      }
    },
  },
  delete_mailing: {
    params: [ID],
    returns: 'int',
    help: 'Deletes a mailing and its recipients (sending stops first). Returns 0.',
    async handler({ call, deps }, [id]) {
      await deps.core.mailings.delete(call, id as number);
      return 0;
    },
  },
  delete_all_mailings_for_domain: {
    params: [P('domain_name', 'string')],
    returns: 'int',
    help: 'Deletes every mailing whose sender is of this domain; returns how many were removed.',
    handler: async ({ call, deps }, [domain]) => await deps.core.mailings.deleteAllForDomain(call, (domain as string).replace(/^%/, '')),
  },
  list_mailings: {
    params: [P('filter', ['struct', 'string'], true)],
    returns: 'array',
    help: 'Lists mailings, by id. Filter: a sender domain, or a struct with id [ints], status [FILLING_RECIPIENTS, READY, RUNNING, PAUSED, FINISHED], domain [strings], owner_guid (string or [strings]), satellite_group (string or [strings]).',
    handler: async ({ call, deps }, [filter]) => (await deps.core.mailings.list(call, mailingFilter(filter))).map(mailingStruct),
  },
  get_mailings_count: {
    params: [P('filter', ['struct', 'string'], true)],
    returns: 'int',
    help: 'Counts mailings; same filter as list_mailings.',
    handler: async ({ call, deps }, [filter]) => await deps.core.mailings.count(call, mailingFilter(filter)),
  },
  add_recipients: {
    params: [ID, P('recipients', 'array')],
    returns: 'array',
    help: 'Adds recipients (structs with email, optional tracking_id and attachments, any other field for personalization). Answers one {email, id, tracking_id} or {email, error} per recipient, in order.',
    handler: (ctx, args) => addRecipients(ctx, args, false),
  },
  send_test: {
    params: [ID, P('recipients', 'array')],
    returns: 'array',
    help: 'As add_recipients, but the messages go out at once whatever the mailing status; they count in its totals.',
    handler: (ctx, args) => addRecipients(ctx, args, true),
  },
  get_recipients_count: {
    params: [P('filter', 'struct', true)],
    returns: 'int',
    help: 'Counts recipients. Filter: status [..], mailings [ids], owners [owner_guids], sender_domains [domains]; the last three select mailings as a union; unknown keys are ignored.',
    async handler(ctx, [filter]) {
      const f = await recipientFilter(ctx, filter);
      return await ctx.deps.core.recipients.count(ctx.call, { statuses: f.statuses?.core, mailingIds: f.mailingIds });
    },
  },
  get_recipients_status: {
    params: [P('recipient_ids', 'array'), P('options', 'struct', true)],
    returns: 'array',
    help: 'Returns the status structs of these recipients (by id). options: with_contact_data, with_customized_content, delete_customized_content.',
    async handler(ctx, [ids, options]) {
      return await statusStructs(ctx, await ctx.deps.core.recipients.status(ctx.call, recipientIds(ids)), statusOptions(options));
    },
  },
  get_recipients_status_updated_since: {
    params: [P('cursor', ['string', ...ANY_TYPE], true), P('filter', ['struct', 'array'], true), P('max_results', ['int', 'string'], true), P('options', 'struct', true)],
    returns: 'struct',
    help: "Returns {cursor, recipients}: the recipients whose status changed since the cursor ('' at first), oldest change first, at most max_results (default and limit 1000). Filter as get_recipients_count (default status: all but READY). An unreadable cursor restarts from the beginning.",
    async handler(ctx, [cursor, filter, max, options]) {
      const f = await recipientFilter(ctx, filter);
      const page = await ctx.deps.core.recipients.feed(ctx.call, typeof cursor === 'string' ? cursor : '', {
        statuses: f.statuses?.core,
        mailingIds: f.mailingIds,
        max: max === undefined ? undefined : (pyInt(max) ?? fail("'max_results' has to be an integer")),
      });
      // A filter naming READY/WARNING keeps those rows even while leased; one naming only IN PROGRESS keeps leased rows.
      const wanted = f.statuses?.wire;
      const keep = (r: RecipientRow) => !wanted || wanted.has(RECIPIENT_STATUS_WORDS[r.status]) || (wanted.has(IN_PROGRESS) && recipientStatusWord(r) === IN_PROGRESS);
      return { cursor: page.cursor, recipients: await statusStructs(ctx, page.recipients.filter(keep), statusOptions(options)) };
    },
  },
  reset_recipients_status: {
    params: [P('recipient_ids', 'array')],
    returns: 'int',
    help: 'Puts these recipients back to READY: they are sent again. Returns 0.',
    async handler({ call, deps }, [ids]) {
      await deps.core.recipients.reset(call, recipientIds(ids));
      return 0;
    },
  },
  get_hourly_statistics: {
    params: [P('filter', 'struct')],
    returns: 'array',
    help: 'Returns one struct {date, epoch_hour, sent, failed, tries} per hour from from_date (required) to to_date (inclusive; default from_date + 999 hours, never past now), zero-filled, at most 1000.',
    async handler({ call, deps }, [filter]) {
      const f = filter as RpcStruct;
      const from = f.from_date instanceof Date || typeof f.from_date === 'string' ? dateOrClear(f.from_date, 'from_date') : null;
      if (!from) throw notAcceptable("Filter 'from_date' has to be a dateTime.iso8601.");
      const to = dateOrClear(f.to_date, 'to_date');
      return (await deps.core.mailings.hourlyStatistics(call, from, to)).map(hourlyStatStruct);
    },
  },
  mailing_manager_force_check: {
    params: [],
    returns: 'int',
    help: "Runs the mailing manager's checks now (due starts, deadlines, mailings left with nothing to send, dead workers' leases). Returns 0.",
    async handler({ call, deps }) {
      await deps.core.mailings.forceCheck(call);
      return 0;
    },
  },
  update_statistics: {
    params: [],
    returns: 'int',
    help: 'Deprecated in the original: statistics are live. Returns 0.',
    handler: async () => 0,
  },
  cloud_get_satellites_count: {
    params: [],
    returns: 'int',
    help: 'The number of send workers seen alive.',
    handler: async ({ deps }) => (await deps.core.workers.alive()).length,
  },
  cloud_list_satellites: {
    params: [],
    returns: 'array',
    help: 'The send workers seen alive: {id, serial, enabled, paired, date_paired, version}.',
    handler: async ({ deps }) => (await deps.core.workers.alive()).map(satelliteStruct),
  },
};

const BASE64_TEXT = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/**
 * create_mailing_ext's payload: base64 text of the message, as a string or as a base64 value holding that
 * text (Python 3's `base64.b64encode(message_bytes)` arrives so, encoded twice). A base64 value that holds
 * the message itself is a Mailgate extension.
 */
export function messageOf(payload: RpcValue): Buffer {
  const bytes = Buffer.isBuffer(payload) ? payload : typeof payload === 'string' ? Buffer.from(payload, 'latin1') : fail(`'rfc822_string' must be a string, got ${wireType(payload)}`);
  const text = bytes.toString('latin1');
  return BASE64_TEXT.test(text) ? Buffer.from(text, 'base64') : bytes;
}
