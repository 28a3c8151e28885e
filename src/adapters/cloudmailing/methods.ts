/**
 * The CloudMailing method table: name -> parameter types (checked before the handler runs: wrong arity or
 * type is fault -32602), help text, and a handler of a few lines that maps wire values to core calls.
 * Values inside structs (properties, filters, recipients) are refused with 406, as the original server did.
 */
import type { CallContext } from '../../core/context.js';
import type { MailingPatch } from '../../core/mailings/service.js';
import type { RecipientInput, RecipientRow } from '../../core/recipients/service.js';
import type { RecipientStatus, MailingStatus } from '../../core/statuses.js';
import { badRequest } from '../../core/errors.js';
import type { AdapterDeps } from '../types.js';
import { parseIso8601Utc, type XmlRpcStruct, type XmlRpcValue } from './codec.js';
import { FAULT, Fault, invalidParams, notAcceptable, toFault } from './errors.js';
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
} from './serializers.js';

export type WireType = 'int' | 'double' | 'boolean' | 'string' | 'dateTime.iso8601' | 'base64' | 'struct' | 'array';

export interface ParamSpec {
  name: string;
  /** Accepted XML-RPC types; the first one is the documented signature. */
  types: WireType[];
  optional?: boolean;
}

export interface MethodCtx {
  call: CallContext;
  deps: AdapterDeps;
}

export interface MethodDef {
  params: ParamSpec[];
  returns: WireType;
  help: string;
  /** Receives the params checked against `params`; absent or nil optional params are undefined. */
  handler(ctx: MethodCtx, args: (XmlRpcValue | undefined)[]): Promise<unknown>;
}

// ------------------------------------------------------------------------------------------- value helpers

export function isStruct(v: unknown): v is XmlRpcStruct {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}

export function wireType(v: XmlRpcValue): WireType | 'nil' {
  if (v === null) return 'nil';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? 'int' : 'double';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof Date) return 'dateTime.iso8601';
  if (Buffer.isBuffer(v)) return 'base64';
  return Array.isArray(v) ? 'array' : 'struct';
}

function checkArgs(method: string, def: MethodDef, params: XmlRpcValue[]): (XmlRpcValue | undefined)[] {
  const required = def.params.filter((p) => !p.optional).length;
  if (params.length < required || params.length > def.params.length) {
    const n = required === def.params.length ? `${required}` : `${required} to ${def.params.length}`;
    throw invalidParams(`${method}: expected ${n} parameters, got ${params.length}`);
  }
  return def.params.map((spec, i) => {
    const v = params[i];
    if (v === undefined || (v === null && spec.optional)) return undefined;
    const t = wireType(v);
    // A double with an integral value is an int for a double parameter and vice versa for ints written 1.0.
    const ok = spec.types.includes(t as WireType) || (t === 'int' && spec.types.includes('double'));
    if (!ok) throw invalidParams(`${method}: parameter ${i + 1} (${spec.name}) must be ${spec.types.join(' or ')}, got ${t}`);
    return v;
  });
}

const str = (v: XmlRpcValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function stringList(v: XmlRpcValue | undefined, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length > 10_000) throw notAcceptable(`${what}: too many values`);
  return list.map((x) => {
    if (typeof x !== 'string') throw notAcceptable(`${what}: strings are expected, got ${x === undefined ? 'nothing' : wireType(x)}`);
    return x;
  });
}

function intList(v: XmlRpcValue | undefined, what: string): number[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length > 10_000) throw notAcceptable(`${what}: too many values`);
  return list.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw notAcceptable(`${what}: integers are expected, got ${x === undefined ? 'nothing' : wireType(x)}`);
    return x;
  });
}

function checkKeys(s: XmlRpcStruct, allowed: readonly string[], what: string) {
  for (const k of Object.keys(s)) {
    if (!allowed.includes(k)) throw notAcceptable(`${what}: unknown key '${k}'. Available: ${allowed.join(', ')}`);
  }
}

function flag(v: XmlRpcValue | undefined, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw notAcceptable(`property '${name}': a boolean is expected`);
}

function dateOrClear(v: XmlRpcValue | undefined, name: string): Date | null {
  if (v instanceof Date) return v;
  if (v === '' || v === null) return null;
  if (typeof v === 'string') {
    try {
      return parseIso8601Utc(v);
    } catch {
      /* refused below */
    }
  }
  throw notAcceptable(`property '${name}': a dateTime.iso8601 (or '' to clear) is expected`);
}

function text(v: XmlRpcValue | undefined, name: string, max = 10_000_000): string {
  if (typeof v !== 'string') throw notAcceptable(`property '${name}': a string is expected`);
  if (v.length > max) throw notAcceptable(`property '${name}': at most ${max} characters`);
  return v;
}

const CHARSET = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;
const HEADER_NAME = /^[!-9;-~]{1,76}$/;

function headers(v: XmlRpcValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, value: unknown) => {
    if (!HEADER_NAME.test(name)) throw notAcceptable(`property 'header': invalid header name ${JSON.stringify(name.slice(0, 80))}`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value) || value.length > 998) {
      throw notAcceptable(`property 'header': header ${name} needs a one-line string value`);
    }
    Object.defineProperty(out, name, { value: value.trim(), enumerable: true, writable: true, configurable: true });
  };
  if (typeof v === 'string') {
    // "Name: value" lines, as the original server took them.
    for (const line of v.split(/\r?\n/)) {
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) throw notAcceptable(`property 'header': "Name: value" lines are expected`);
      add(line.slice(0, i).trim(), line.slice(i + 1));
    }
  } else if (isStruct(v)) {
    for (const [k, x] of Object.entries(v)) add(k, x);
  } else throw notAcceptable(`property 'header': a string of "Name: value" lines or a struct is expected`);
  return out;
}

/** set_mailing_properties: wire property names to the core's MailingPatch. */
export function mailingPatch(props: XmlRpcStruct): MailingPatch {
  const patch: MailingPatch = {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(props, k);
  for (const [name, v] of Object.entries(props)) {
    switch (name) {
      case 'type':
        if (v !== 'REGULAR' && v !== 'OPENED') throw notAcceptable(`property 'type': REGULAR or OPENED`);
        patch.type = v === 'OPENED' ? 'opened' : 'regular';
        break;
      case 'mail_from':
        patch.fromEmail = text(v, name, 254);
        break;
      case 'sender_name':
        patch.fromName = v === null || v === '' ? null : text(v, name, 200);
        break;
      case 'tracking_url': {
        if (v === null || v === '') {
          patch.trackingUrl = null;
          break;
        }
        const url = text(v, name, 2000);
        if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw notAcceptable(`property 'tracking_url': an http(s) URL is expected`);
        patch.trackingUrl = url;
        break;
      }
      case 'owner_guid':
        patch.ownerGuid = v === null || v === '' ? null : text(v, name, 50);
        break;
      case 'scheduled_start':
        patch.scheduledStart = dateOrClear(v, name);
        break;
      case 'scheduled_end':
        patch.scheduledEnd = dateOrClear(v, name);
        break;
      case 'scheduled_duration':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw notAcceptable(`property 'scheduled_duration': minutes (an integer >= 0)`);
        patch.scheduledDuration = v;
        break;
      case 'dont_close_if_empty':
        patch.dontCloseIfEmpty = flag(v, name);
        break;
      case 'read_tracking':
        patch.readTracking = flag(v, name);
        break;
      case 'click_tracking':
        patch.clickTracking = flag(v, name);
        break;
      case 'backup_customized_emails':
        patch.backupCustomizedEmails = flag(v, name);
        break;
      case 'subject':
        patch.subject = text(v, name, 2000);
        break;
      case 'html_content':
        patch.html = v === null || v === '' ? null : text(v, name);
        break;
      case 'plain_content':
        patch.text = v === null || v === '' ? null : text(v, name);
        break;
      case 'charset': {
        const c = text(v, name, 40);
        if (!CHARSET.test(c)) throw notAcceptable(`property 'charset': not a charset name`);
        patch.charset = c;
        break;
      }
      case 'url_encoding':
        patch.urlEncoding = v === null || v === '' ? null : text(v, name, 40);
        break;
      case 'dkim': {
        if (v === null || v === '') {
          patch.dkim = null;
          break;
        }
        if (!isStruct(v)) throw notAcceptable(`property 'dkim': a struct {enabled, selector, domain, privkey} is expected`);
        checkKeys(v, ['enabled', 'selector', 'domain', 'privkey'], "property 'dkim'");
        const dkim: NonNullable<MailingPatch['dkim']> = {};
        if (v.enabled !== undefined) dkim.enabled = flag(v.enabled, 'dkim.enabled');
        if (v.selector !== undefined) dkim.selector = text(v.selector, 'dkim.selector', 63);
        if (v.domain !== undefined) dkim.domain = text(v.domain, 'dkim.domain', 253);
        if (v.privkey !== undefined) dkim.privkey = text(v.privkey, 'dkim.privkey', 20_000);
        patch.dkim = dkim;
        break;
      }
      case 'header':
        patch.headers = headers(v);
        break;
      default:
        throw notAcceptable(`Invalid property named '${name.slice(0, 100)}'`);
    }
  }
  // The original server re-encodes content with the given charset: it must come with it.
  for (const k of ['subject', 'html_content', 'plain_content']) {
    if (has(k) && !has('charset')) throw notAcceptable(`property '${k}' requires 'charset' in the same call`);
  }
  return patch;
}

function mailingFilter(f: XmlRpcValue | undefined) {
  if (f === undefined || f === '') return {};
  if (typeof f === 'string') return { domains: [f] }; // the original accepted a bare domain name
  if (!isStruct(f)) throw invalidParams('filter must be a struct');
  checkKeys(f, ['id', 'status', 'domain', 'owner_guid'], 'filter');
  const out: { ids?: number[]; statuses?: MailingStatus[]; domains?: string[]; ownerGuids?: string[] } = {};
  if (f.id !== undefined) out.ids = intList(f.id, "filter 'id'");
  if (f.status !== undefined) {
    out.statuses = stringList(f.status, "filter 'status'").map(
      (w) => mailingStatusFromWire(w) ?? fail406(`Bad status '${w.slice(0, 40)}'. Available status are: ${WIRE_MAILING_STATUSES.join(', ')}`),
    );
  }
  if (f.domain !== undefined) out.domains = stringList(f.domain, "filter 'domain'").map((d) => d.replace(/^%/, ''));
  if (f.owner_guid !== undefined) out.ownerGuids = stringList(f.owner_guid, "filter 'owner_guid'");
  return out;
}

function fail406(message: string): never {
  throw notAcceptable(message);
}

function recipientStatusFilter(v: XmlRpcValue | undefined): { core: RecipientStatus[]; wire: Set<string> } | undefined {
  const words = stringList(v, "filter 'status'");
  if (!words.length) return undefined;
  const core = new Set<RecipientStatus>();
  for (const w of words) {
    const s = recipientStatusesFromWire(w) ?? fail406(`Bad status '${w.slice(0, 40)}'. Available status are: ${WIRE_RECIPIENT_STATUSES.join(', ')}`);
    for (const x of s) core.add(x);
  }
  return { core: [...core], wire: new Set(words) };
}

/** Personalization fields: any scalar but email, tracking_id and attachments; dates become ISO strings. */
function recipientInput(item: XmlRpcValue): RecipientInput | { email: unknown; error: string } {
  if (!isStruct(item)) return { email: undefined, error: 'each recipient must be a struct with an email field' };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'email' || k === 'tracking_id' || k === 'attachments') continue;
    if (k.length > 200) return { email: item.email, error: `field name too long: ${k.slice(0, 40)}...` };
    let value: unknown;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value = v;
    else if (v instanceof Date) value = v.toISOString();
    else return { email: item.email, error: `field '${k.slice(0, 100)}': a scalar value is expected, got ${wireType(v)}` };
    Object.defineProperty(fields, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return { email: item.email, trackingId: item.tracking_id, attachments: item.attachments, fields };
}

async function addRecipients(ctx: MethodCtx, args: (XmlRpcValue | undefined)[], test: boolean) {
  const id = args[0] as number;
  const items = args[1] as XmlRpcValue[];
  const max = ctx.deps.config.MAX_RECIPIENTS_PER_CALL;
  if (items.length > max) throw badRequest(`too many recipients in one call: ${items.length} (at most ${max}); split them over several calls`);
  const converted = items.map(recipientInput);
  const valid = converted.filter((c): c is RecipientInput => !('error' in c));
  const fn = test ? ctx.deps.core.recipients.sendTest : ctx.deps.core.recipients.add;
  const results = await fn(ctx.call, id, valid);
  let next = 0;
  return converted.map((c) => {
    const r = 'error' in c ? c : results[next++]!;
    return 'id' in r ? { email: r.email, id: r.id, tracking_id: r.id } : { email: r.email, error: r.error };
  });
}

function recipientIds(v: XmlRpcValue | undefined): string[] {
  const ids = v as XmlRpcValue[];
  return ids.map((x, i) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' && Number.isInteger(x)) return String(x);
    throw invalidParams(`recipient_ids[${i}]: a string is expected, got ${wireType(x)}`);
  });
}

function withContact(options: XmlRpcValue | undefined): boolean {
  if (options === undefined) return false;
  if (!isStruct(options)) throw invalidParams('options must be a struct');
  const v = options.with_contact_data;
  return v === true || v === 1;
}

// ---------------------------------------------------------------------------------------------- the table

const P = (name: string, types: WireType | WireType[], optional = false): ParamSpec => ({
  name,
  types: Array.isArray(types) ? types : [types],
  optional,
});
const ID = P('mailing_id', 'int');

export const METHODS: Record<string, MethodDef> = {
  create_mailing: {
    params: [P('mail_from', 'string'), P('sender_name', 'string'), P('subject', 'string'), P('html_content', 'string'), P('plain_content', 'string', true), P('charset', 'string', true)],
    returns: 'int',
    help: 'Creates a new mailing and returns its id. plain_content is derived from html_content when empty; charset (default utf-8) applies to both.',
    async handler({ call, deps }, [mailFrom, senderName, subject, html, plain, charset]) {
      if (charset !== undefined && !CHARSET.test(charset as string)) throw notAcceptable('charset: not a charset name');
      return await deps.core.mailings.create(call, {
        dialect: 'cloudmailing',
        fromEmail: mailFrom as string,
        fromName: (senderName as string) || null,
        subject: subject as string,
        html: (html as string) || null,
        text: str(plain) || null,
        charset: str(charset) || 'utf-8',
      });
    },
  },
  create_mailing_ext: {
    params: [P('message', ['base64', 'string'])],
    returns: 'int',
    help: 'Creates a new mailing from a whole RFC 822 message (base64) and returns its id.',
    handler: async ({ call, deps }, [msg]) =>
      await deps.core.mailings.createFromMessage(call, 'cloudmailing', Buffer.isBuffer(msg) ? msg : Buffer.from(msg as string, 'utf8')),
  },
  set_mailing_properties: {
    params: [ID, P('properties', 'struct')],
    returns: 'int',
    help:
      'Changes properties of a mailing, only while FILLING_RECIPIENTS or PAUSED (else fault 403). Properties: type (REGULAR|OPENED), mail_from, sender_name, tracking_url, owner_guid, scheduled_start, scheduled_end (dateTime or \'\' to clear), scheduled_duration (minutes), dont_close_if_empty, subject, html_content, plain_content, charset (required with the three before it), read_tracking, click_tracking, backup_customized_emails, url_encoding, dkim {enabled, selector, domain, privkey}, header. Unknown property: fault 406. Returns 0.',
    async handler({ call, deps }, [id, props]) {
      await deps.core.mailings.setProperties(call, id as number, mailingPatch(props as XmlRpcStruct));
      return 0;
    },
  },
  start_mailing: {
    params: [ID],
    returns: 'string',
    help: 'Starts (or resumes) a mailing; returns its new status: READY (waiting for scheduled_start) or RUNNING.',
    handler: async ({ call, deps }, [id]) => MAILING_STATUS_WORDS[await deps.core.mailings.start(call, id as number)],
  },
  pause_mailing: {
    params: [ID],
    returns: 'string',
    help: 'Pauses a mailing; returns its new status (PAUSED).',
    handler: async ({ call, deps }, [id]) => MAILING_STATUS_WORDS[await deps.core.mailings.pause(call, id as number)],
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
    params: [P('domain', 'string')],
    returns: 'int',
    help: 'Deletes every mailing whose sender is of this domain; returns how many were removed.',
    handler: async ({ call, deps }, [domain]) => await deps.core.mailings.deleteAllForDomain(call, domain as string),
  },
  list_mailings: {
    params: [P('filter', ['struct', 'string'], true)],
    returns: 'array',
    help: 'Lists mailings. Filter struct (optional): id [ints], status [FILLING_RECIPIENTS, READY, RUNNING, PAUSED, FINISHED], domain [strings], owner_guid (string or [strings]).',
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
    help: "Adds recipients: an array of structs, each with 'email' and optional 'tracking_id' (under 50 characters), 'attachments' [{filename, content-type, charset, data}] and any personalization field. Returns one struct per item, in order: {email, id, tracking_id} or {email, error}.",
    handler: (ctx, args) => addRecipients(ctx, args, false),
  },
  send_test: {
    params: [ID, P('recipients', 'array')],
    returns: 'array',
    help: 'As add_recipients, but the messages are sent at once, even before start, and are not counted in the totals.',
    handler: (ctx, args) => addRecipients(ctx, args, true),
  },
  get_recipients_count: {
    params: [P('filter', 'struct', true)],
    returns: 'int',
    help: 'Counts recipients. Filter struct (optional): status [], mailings [ids], owners [owner_guid], sender_domains [].',
    async handler({ call, deps }, [filter]) {
      const f = (filter ?? {}) as XmlRpcStruct;
      checkKeys(f, ['status', 'mailings', 'owners', 'sender_domains'], 'filter');
      return await deps.core.recipients.count(call, {
        statuses: f.status === undefined ? undefined : recipientStatusFilter(f.status)?.core,
        mailingIds: f.mailings === undefined ? undefined : intList(f.mailings, "filter 'mailings'"),
        ownerGuids: f.owners === undefined ? undefined : stringList(f.owners, "filter 'owners'"),
        senderDomains: f.sender_domains === undefined ? undefined : stringList(f.sender_domains, "filter 'sender_domains'"),
      });
    },
  },
  get_recipients_status: {
    params: [P('recipient_ids', 'array'), P('options', 'struct', true)],
    returns: 'array',
    help: 'Returns the status structs of these recipients (ids as returned by add_recipients). options: {with_contact_data}.',
    async handler({ call, deps }, [ids, options]) {
      const contact = withContact(options);
      return (await deps.core.recipients.status(call, recipientIds(ids))).map((r) => recipientStruct(r, contact));
    },
  },
  get_recipients_status_updated_since: {
    params: [P('cursor', 'string', true), P('filter', ['struct', 'array', 'string'], true), P('max_results', 'int', true), P('options', 'struct', true)],
    returns: 'struct',
    help: "Returns {cursor, recipients}: the recipients whose status changed since the cursor ('' at first), oldest change first, at most max_results (default and limit 1000). filter: an array of statuses, or a struct {status, mailings, owners, sender_domains}; default: every status but READY. options: {with_contact_data}.",
    async handler({ call, deps }, [cursor, filter, max, options]) {
      const contact = withContact(options);
      let status: ReturnType<typeof recipientStatusFilter>;
      let mailingIds: number[] | undefined;
      if (Array.isArray(filter)) status = recipientStatusFilter(filter);
      else if (isStruct(filter)) {
        checkKeys(filter, ['status', 'mailings', 'owners', 'sender_domains'], 'filter');
        if (filter.status !== undefined) status = recipientStatusFilter(filter.status);
        if (filter.mailings !== undefined) mailingIds = intList(filter.mailings, "filter 'mailings'");
        if (filter.owners !== undefined || filter.sender_domains !== undefined) {
          const owned = await deps.core.mailings.list(call, {
            ids: mailingIds,
            ownerGuids: filter.owners === undefined ? undefined : stringList(filter.owners, "filter 'owners'"),
            domains: filter.sender_domains === undefined ? undefined : stringList(filter.sender_domains, "filter 'sender_domains'"),
          });
          mailingIds = owned.map((m) => m.id);
        }
        // No mailing matches: 0 is no mailing's id, so the feed still moves its cursor and returns nothing.
        if (mailingIds && !mailingIds.length) mailingIds = [0];
      } else if (filter !== undefined && filter !== '') throw invalidParams('filter must be an array of statuses or a struct');
      const page = await deps.core.recipients.feed(call, (cursor as string | undefined) ?? '', {
        statuses: status?.core,
        mailingIds,
        max: max as number | undefined,
      });
      // A filter naming READY/WARNING keeps those rows even while leased; one naming only IN PROGRESS keeps leased rows.
      const keep = (r: RecipientRow) =>
        !status || status.wire.has(RECIPIENT_STATUS_WORDS[r.status]) || (status.wire.has(IN_PROGRESS) && recipientStatusWord(r) === IN_PROGRESS);
      return { cursor: page.cursor, recipients: page.recipients.filter(keep).map((r) => recipientStruct(r, contact)) };
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
    help: 'Returns one struct per hour {date, epoch_hour, sent, failed, tries}. filter: {from_date (dateTime, required), to_date (dateTime, optional)}.',
    async handler({ call, deps }, [filter]) {
      const f = filter as XmlRpcStruct;
      checkKeys(f, ['from_date', 'to_date', 'senders'], 'filter');
      if (f.from_date === undefined) throw notAcceptable("filter 'from_date' is required");
      const from = dateOrClear(f.from_date, 'from_date') ?? fail406("filter 'from_date' is required");
      const to = f.to_date === undefined ? null : dateOrClear(f.to_date, 'to_date');
      return (await deps.core.mailings.hourlyStatistics(call, from, to)).map(hourlyStatStruct);
    },
  },
};

// --------------------------------------------------------------------------------------------- introspection

const MAX_MULTICALL = 1000;

function signatures(def: MethodDef): string[][] {
  const required = def.params.filter((p) => !p.optional).length;
  const out: string[][] = [];
  for (let n = required; n <= def.params.length; n++) out.push([def.returns, ...def.params.slice(0, n).map((p) => p.types[0]!)]);
  return out;
}

function lookup(name: XmlRpcValue | undefined): MethodDef {
  const def = typeof name === 'string' && Object.prototype.hasOwnProperty.call(ALL, name) ? ALL[name] : undefined;
  if (!def) throw new Fault(FAULT.UNKNOWN_METHOD, `method ${JSON.stringify(String(name).slice(0, 100))} is not supported`);
  return def;
}

const SYSTEM: Record<string, MethodDef> = {
  'system.listMethods': {
    params: [],
    returns: 'array',
    help: 'Lists the methods this server offers.',
    handler: async () => Object.keys(ALL).sort(),
  },
  'system.methodHelp': {
    params: [P('method_name', 'string')],
    returns: 'string',
    help: 'Returns the documentation of a method.',
    handler: async (_ctx, [name]) => lookup(name).help,
  },
  'system.methodSignature': {
    params: [P('method_name', 'string')],
    returns: 'array',
    help: 'Returns the signatures of a method: arrays of [return type, parameter types...].',
    handler: async (_ctx, [name]) => signatures(lookup(name)),
  },
  'system.multicall': {
    params: [P('calls', 'array')],
    returns: 'array',
    help: 'Runs several calls, each {methodName, params}, in order. Returns per call a one-element array with its result, or a {faultCode, faultString} struct. No nested system.multicall.',
    async handler(ctx, [calls]) {
      const list = calls as XmlRpcValue[];
      if (list.length > MAX_MULTICALL) throw invalidParams(`system.multicall: at most ${MAX_MULTICALL} calls`);
      const out: unknown[] = [];
      for (const c of list) {
        try {
          if (!isStruct(c) || typeof c.methodName !== 'string') throw invalidParams('system.multicall: each call must be a struct {methodName, params}');
          if (c.methodName === 'system.multicall') throw invalidParams('system.multicall: nested multicall is not allowed');
          const params = c.params === undefined ? [] : c.params;
          if (!Array.isArray(params)) throw invalidParams('system.multicall: params must be an array');
          out.push([await invoke(ctx, c.methodName, params)]);
        } catch (e) {
          const f = toFault(e);
          if (f.internal) ctx.deps.logger.error({ err: e, requestId: ctx.call.requestId, method: String((c as XmlRpcStruct)?.methodName).slice(0, 100) }, 'cloudmailing: internal error in multicall');
          out.push({ faultCode: f.faultCode, faultString: f.faultString });
        }
      }
      return out;
    },
  },
};

const ALL: Record<string, MethodDef> = { ...METHODS, ...SYSTEM };

/** Check the params against the table and run the method. Throws Fault, DomainError or anything unexpected. */
export async function invoke(ctx: MethodCtx, methodName: string, params: XmlRpcValue[]): Promise<unknown> {
  const def = lookup(methodName);
  return await def.handler(ctx, checkArgs(methodName, def, params));
}
