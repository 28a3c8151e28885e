/**
 * The CloudMailing method table, as the original server (ricard33/cloud-mailing, xmlrpc_api.py and
 * api_common.py) behaves: each handler reads its wire values (values.ts), calls the core and builds the
 * original's answer (serializers.ts). Both encodings (index.ts) serve this one table.
 */
import { isDomainError } from '../../core/errors.js';
import type { MailingFilter } from '../../core/mailings/service.js';
import type { RecipientInput, RecipientRow } from '../../core/recipients/service.js';
import { Fault } from '../../rpc/faults.js';
import { ANY_TYPE, P, type MethodCtx, type MethodTable } from '../../rpc/methods.js';
import { pyInt, type RpcStruct, type RpcValue } from '../../rpc/values.js';
import type { AdapterDeps } from '../types.js';
import { DOMAIN_FAULT_CODES, fail, notAcceptable, onMailing } from './errors.js';
import {
  IN_PROGRESS,
  MAILING_STATUS_WORDS,
  RECIPIENT_STATUS_WORDS,
  hourlyStatStruct,
  mailingStruct,
  recipientStatusWord,
  recipientStruct,
  satelliteStruct,
} from './serializers.js';
import {
  charsetOf,
  hourRange,
  mailingFilter,
  mailingPatch,
  messageOf,
  recipientFilter,
  recipientIds,
  recipientInput,
  senderAddress,
  statusOptions,
  textOf,
  type RecipientFilterWire,
  type StatusOptions,
} from './values.js';

type Ctx = MethodCtx<AdapterDeps>;

const DIALECT = 'cloudmailing';

/** The mailings a recipient filter names (the union of its three ways), undefined when it names none. */
async function mailingIdsOf({ call, deps }: Ctx, f: RecipientFilterWire): Promise<number[] | undefined> {
  if (!f.mailings && !f.owners && !f.senderDomains) return undefined;
  const ids = new Set<number>(f.mailings ?? []);
  const select = async (filter: MailingFilter) => (await deps.core.mailings.ids(call, filter)).forEach((id) => ids.add(id));
  if (f.owners) await select({ ownerGuids: f.owners });
  if (f.senderDomains) await select({ domains: f.senderDomains });
  return [...ids];
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
  const results = await onMailing(() => (test ? deps.core.recipients.sendTest : deps.core.recipients.add)(call, id, valid));
  let next = 0;
  return converted.map((c) => {
    const r = 'error' in c ? c : results[next++]!;
    if ('id' in r) return { email: r.email, id: r.id, tracking_id: r.id };
    return r.email === undefined ? { error: r.error } : { email: r.email, error: r.error };
  });
}

/** Status structs, with each recipient's kept message when its mailing keeps them (backup_customized_emails). */
async function statusStructs(ctx: Ctx, rows: RecipientRow[], o: StatusOptions) {
  const kept = await ctx.deps.core.recipients.customizedMessages(
    ctx.call,
    rows.map((r) => r.id),
    o.deleteCustomized,
  );
  return rows.map((r) => recipientStruct(r, { contact: o.contact, customized: kept.get(r.id) }));
}

// ---------------------------------------------------------------------------------------------------- the table

const ID = P('mailing_id', 'int');
const TEXT = ['string', 'base64'] as const;

export const METHODS: MethodTable<AdapterDeps> = {
  create_mailing: {
    params: [
      P('mail_from', 'string'),
      P('sender_name', [...TEXT]),
      P('subject', [...TEXT]),
      P('html_content', [...TEXT]),
      P('plain_content', [...TEXT], true),
      P('charset', 'string', true),
    ],
    returns: 'int',
    help: 'Creates a new mailing and returns its id. Texts are strings or base64 values in charset (default utf-8). An empty plain_content is made from html_content.',
    async handler({ call, deps }, [mailFrom, senderName, subject, html, plain, charset]) {
      const cs = charsetOf(charset);
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
    help: "Changes properties of a mailing, until it is FINISHED (fault 403). Properties: type (REGULAR|OPENED), mail_from, sender_name (shown_name), tracking_url, owner_guid, satellite_group, scheduled_start, scheduled_end (dateTime, ISO string, or '' to clear), scheduled_duration (the mailing's maximum duration in minutes from its actual start; 0 removes it), dont_close_if_empty, subject, html_content, plain_content, charset (required with the three before it), read_tracking, click_tracking, backup_customized_emails, testing (messages go to the built-in capture), url_encoding, dkim {enabled, selector, domain, privkey, ...}, header (a whole header block), body; Mailgate's own: spread_minutes (spread first tries over that many minutes). Unknown property: fault 406. Returns 0.",
    async handler({ call, deps }, [id, props]) {
      await onMailing(() => deps.core.mailings.setProperties(call, id as number, mailingPatch(props as RpcStruct)), `Mailing [${id as number}] not found!`);
      return 0;
    },
  },
  start_mailing: {
    params: [ID, P('when', ['dateTime.iso8601', 'string', 'int'], true)],
    returns: 'string',
    help: 'Starts a mailing (FILLING_RECIPIENTS becomes READY; the manager makes it RUNNING when its scheduled_start is reached) or resumes a paused one. Returns the new status. `when` is accepted and ignored, as in the original.',
    handler: async ({ call, deps }, [id]) => MAILING_STATUS_WORDS[await onMailing(() => deps.core.mailings.start(call, id as number))],
  },
  pause_mailing: {
    params: [ID],
    returns: 'string',
    help: 'Pauses a READY, RUNNING or PAUSED mailing (else fault 406); returns PAUSED.',
    async handler({ call, deps }, [id]) {
      try {
        return MAILING_STATUS_WORDS[await onMailing(() => deps.core.mailings.pause(call, id as number))];
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
      await onMailing(() => deps.core.mailings.delete(call, id as number));
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
      const f = recipientFilter(filter);
      return await ctx.deps.core.recipients.count(ctx.call, { statuses: f.statuses?.core, mailingIds: await mailingIdsOf(ctx, f) });
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
    params: [
      P('cursor', ['string', ...ANY_TYPE], true),
      P('filter', ['struct', 'array'], true),
      P('max_results', ['int', 'string'], true),
      P('options', 'struct', true),
    ],
    returns: 'struct',
    help: "Returns {cursor, recipients}: the recipients whose status changed since the cursor ('' at first), oldest change first, at most max_results (default and limit 1000). Filter as get_recipients_count (default status: all but READY). An unreadable cursor restarts from the beginning.",
    async handler(ctx, [cursor, filter, max, options]) {
      const f = recipientFilter(filter);
      const page = await ctx.deps.core.recipients.feed(ctx.call, typeof cursor === 'string' ? cursor : '', {
        statuses: f.statuses?.core,
        mailingIds: await mailingIdsOf(ctx, f),
        max: max === undefined ? undefined : (pyInt(max) ?? fail("'max_results' has to be an integer")),
      });
      // A filter naming READY/WARNING keeps those rows even while leased; one naming only IN PROGRESS keeps leased rows.
      const wanted = f.statuses?.wire;
      const keep = (r: RecipientRow) =>
        !wanted || wanted.has(RECIPIENT_STATUS_WORDS[r.status]) || (wanted.has(IN_PROGRESS) && recipientStatusWord(r) === IN_PROGRESS);
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
      const { from, to } = hourRange(filter as RpcStruct);
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
    handler: () => Promise.resolve(0),
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
