/**
 * The Mailkit function table: name -> its parameters (XML-RPC positions after client_id and client_md5; JSON
 * `parameters` keys, with the aliases real clients use) and a handler that reads them leniently (values.ts),
 * calls the core and builds the reply in the call's encoding (serializers.ts). Reply shapes follow the real
 * API as its clients read it (mailkit/mailkit-api, igloonet/mailkit-api and their mock replies; the Keboola
 * extractors for the reports; itsmepvr/mailkit_campaign for the sender addresses and campaigns.create) and
 * Mailkit's documentation where it shows them; where a client and the spec disagree, the client wins.
 */
import type { CallContext } from '../../core/context.js';
import { isValidEmail } from '../../core/email.js';
import { isDomainError } from '../../core/errors.js';
import type { AdapterDeps } from '../types.js';
import { isStruct } from '../../rpc/values.js';
import { MailkitError, onList } from './errors.js';
import * as S from './serializers.js';
import {
  boolOf,
  countOf,
  emailOrId,
  optionalId,
  plainText,
  rangeBound,
  rawPage,
  requiredId,
  userData,
  userStruct,
  userText,
  type MailkitArgs,
  verdictOf,
} from './values.js';
import { RAW_LOG_MAX } from '../../core/bounces/service.js';

export type { MailkitArgs };

export interface MailkitCtx {
  call: CallContext;
  deps: AdapterDeps;
  encoding: S.Encoding;
}

export interface MailkitFunction {
  /** Parameter names in XML-RPC order (after client_id, client_md5); JSON takes them by name. */
  params: readonly string[];
  /** Other JSON names real clients use for a parameter: alias -> name. */
  aliases?: Readonly<Record<string, string>>;
  /** Positional parameters after the named ones are collected under this name (sendmail's attachments). */
  rest?: string;
  handler(ctx: MailkitCtx, args: MailkitArgs): Promise<unknown>;
}

const EMPTY_HTML = '<!DOCTYPE html><html><body></body></html>';

export const FUNCTIONS: Record<string, MailkitFunction> = {
  'mailkit.report.raw.bounces': {
    params: ['ID_message', 'ID_send', 'ID_undelivered_log', 'limit'],
    aliases: { ID_UNDELIVERED_LOG: 'ID_undelivered_log' },
    async handler({ call, deps, encoding }, a) {
      const { filter, from, limit } = rawPage(a, 'ID_undelivered_log');
      const rows = await deps.core.bounces.log(call, filter, from, limit);
      return rows.map((b) => S.record(S.rawBounceFields(b), encoding));
    },
  },

  'mailkit.report.raw.messages': {
    params: ['ID_message', 'ID_send', 'ID_send_message', 'limit'],
    aliases: { ID_SEND_MESSAGE: 'ID_send_message' },
    async handler({ call, deps, encoding }, a) {
      const { filter, from, limit } = rawPage(a, 'ID_send_message');
      const rows = await deps.core.reports.messages(call, filter, from, limit);
      return rows.map((r) => S.record(S.rawMessageFields(r), encoding));
    },
  },

  'mailkit.report.message.bounces': {
    params: ['ID_send'],
    async handler({ call, deps, encoding }, a) {
      const sendId = requiredId(a.ID_send, 'ID_send');
      return (await deps.core.reports.sendBounces(call, sendId)).map((b) => S.record(S.messageBounceFields(b), encoding));
    },
  },

  'mailkit.report': {
    params: ['range_from', 'range_to'],
    async handler({ call, deps, encoding }, a) {
      const range = { from: rangeBound(a.range_from, 'range_from', false), to: rangeBound(a.range_to, 'range_to', true) };
      return S.byMailing(await deps.core.reports.sends(call, range)).map((r) => S.record(S.reportFields(r), encoding));
    },
  },

  'mailkit.report.campaign': {
    params: ['ID_message', 'range_from', 'range_to'],
    async handler({ call, deps, encoding }, a) {
      const mailingId = requiredId(a.ID_message, 'ID_message');
      const range = { mailingId, from: rangeBound(a.range_from, 'range_from', false), to: rangeBound(a.range_to, 'range_to', true) };
      await deps.core.mailings.get(call, mailingId).catch(() => {
        throw new MailkitError('Invalid ID_message');
      });
      const rows = await deps.core.reports.sends(call, range);
      return rows.map((r) => S.record(S.campaignReportFields(r), encoding));
    },
  },

  'mailkit.campaigns.list': {
    params: ['ID_message'],
    async handler({ call, deps }, a) {
      const id = optionalId(a.ID_message, 'ID_message');
      const mailings = await deps.core.mailings.list(call, id === null ? {} : { ids: [id] });
      return mailings.map((m) => S.campaign(m));
    },
  },

  'mailkit.mailinglist.list': {
    params: [],
    async handler({ call, deps }) {
      return (await deps.core.lists.list(call)).map((l) => S.mailingList(l));
    },
  },

  'mailkit.mailinglist.create': {
    params: ['name', 'description'],
    async handler({ call, deps, encoding }, a) {
      const name = plainText(a.name)?.trim();
      if (!name) throw new MailkitError('Missing name of mailing list');
      const description = plainText(a.description) ?? '';
      let id: number;
      try {
        id = await deps.core.lists.create(call, { name, description });
      } catch (e) {
        if (isDomainError(e) && e.code === 'CONFLICT') throw new MailkitError('Mailing list exist');
        throw e;
      }
      return { data: encoding === 'json' ? String(id) : id };
    },
  },

  'mailkit.mailinglist.delete': {
    params: ['ID_user_list', 'keep_list'],
    aliases: { mailinglist_id: 'ID_user_list' },
    async handler({ call, deps }, a) {
      const id = requiredId(a.ID_user_list, 'ID_user_list');
      // keep_list TRUE empties the list and keeps it (igloonet's flushMailingList()).
      if (boolOf(a.keep_list)) await onList('ID_user_list', () => deps.core.lists.empty(call, id));
      else await onList('ID_user_list', () => deps.core.lists.delete(call, id));
      return { data: 'OK' };
    },
  },

  'mailkit.mailinglist.adduser': {
    params: ['ID_user_list', 'confirm', 'personal', 'address', 'custom'],
    aliases: { mailinglist_id: 'ID_user_list', double_opt_in: 'confirm' },
    async handler({ call, deps, encoding }, a) {
      const listId = requiredId(a.ID_user_list, 'ID_mailing_list', 'Missing ID_mailing_list');
      const { email, params } = userData(a.personal, a.address, a.custom);
      if (!email) throw new MailkitError('Missing email');
      if (!isValidEmail(email)) throw new MailkitError('Bad email syntax');
      // Double opt-in: the reply of the real API when the confirmation message went out ("Sent subscribe
      // email", a success with error_status 0); an address already active gets the plain reply below.
      let r: { id: number; inserted: boolean; status: string };
      if (boolOf(a.confirm)) {
        const q = await onList('ID_mailing_list', () => deps.core.subscriptions.request(call, listId, { email, params }));
        if (q.sent) return encoding === 'json' ? { error: 'Sent subscribe email', error_status: 0 } : 'Sent subscribe email';
        r = { id: q.subscriberId, inserted: q.inserted, status: q.status };
      } else {
        const [w] = await onList('ID_mailing_list', () => deps.core.lists.subscribe(call, listId, [{ email, params }]));
        if (!w || 'error' in w) throw new MailkitError('Bad email syntax');
        r = w;
      }
      const unsubscribed = r.status !== 'active' && r.status !== 'unconfirmed';
      const status = r.inserted
        ? unsubscribed
          ? S.INSERT_STATUS.insertedUnsubscribed
          : S.INSERT_STATUS.inserted
        : unsubscribed
          ? S.INSERT_STATUS.updatedUnsubscribed
          : S.INSERT_STATUS.updated;
      return encoding === 'json' ? { data: String(r.id), ID_email: String(r.id), status: String(status), error_status: 0 } : { data: r.id, status };
    },
  },

  'mailkit.mailinglist.edituser': {
    params: ['ID_user_list', 'ID_email', 'keep_values', 'personal', 'address', 'custom'],
    aliases: { mailinglist_id: 'ID_user_list', email_id: 'ID_email' },
    async handler({ call, deps, encoding }, a) {
      const listId = requiredId(a.ID_user_list, 'ID_user_list');
      const who = emailOrId(a.ID_email);
      if (!who) throw new MailkitError('Missing ID_email');
      const email = 'email' in who ? who.email : (await deps.core.lists.subscribers(call, { id: who.id }, listId))[0]?.email;
      if (!email || !isValidEmail(email)) throw new MailkitError('Invalid ID_email');
      const { email: newEmail, params } = userData(a.personal, a.address, a.custom);
      if (newEmail && newEmail !== email) throw new MailkitError('Invalid ID_email: the address itself cannot be changed');
      const [r] = await onList('ID_user_list', () => deps.core.lists.edit(call, listId, [{ email, params }]));
      if (!r || 'error' in r) throw new MailkitError('Invalid ID_email');
      // XML: the bare string, as Mailkit answers (igloonet's editUser() reads getStringValue(), since its fix of
      // 2018 "fix bad response from userEdit"; its mock mailkit.mailinglist.edituser.12345.xml). JSON: the mock's.
      return encoding === 'json' ? { error_status: 0, error: 'OK', ID_email: r.id } : 'OK';
    },
  },

  'mailkit.mailinglist.import': {
    params: ['ID_user_list', 'recipients'],
    aliases: { mailinglist_id: 'ID_user_list' },
    async handler({ call, deps, encoding }, a) {
      const listId = requiredId(a.ID_user_list, 'ID_user_list');
      if (!Array.isArray(a.recipients)) throw new MailkitError('Missing recipients');
      const items = a.recipients.map((x) => {
        const { email, params } = userData(isStruct(x) ? x : undefined, undefined, undefined, plainText);
        return { email: email ?? '', params };
      });
      const results = await onList('ID_user_list', () => deps.core.lists.subscribe(call, listId, items));
      const invalid = results.filter((r) => 'error' in r).map((r) => (typeof r.email === 'string' ? r.email : ''));
      const counts = {
        count_all: results.length,
        count_new: results.filter((r) => !('error' in r) && r.inserted).length,
        count_updated: results.filter((r) => !('error' in r) && !r.inserted).length,
        count_bad: invalid.length,
      };
      return { ...(encoding === 'json' ? Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)])) : counts), invalid_emails: invalid };
    },
  },

  'mailkit.email.unsubscribe': {
    params: ['ID_email', 'ID_send_message', 'send_optout', 'timeout'],
    aliases: { email_id: 'ID_email', email: 'ID_email' },
    async handler({ call, deps, encoding }, a) {
      const who = emailOrId(a.ID_email);
      if (!who) throw new MailkitError('Invalid ID_email or email');
      if ('email' in who && !isValidEmail(who.email)) throw new MailkitError('Invalid ID_email or email');
      const messageId = optionalId(a.ID_send_message, 'ID_send_message');
      let target = who;
      // The message it came from, when given and of this address, records where the unsubscribe came from.
      if (messageId !== null) {
        const ofMessage = await deps.core.suppressions.addressOfId(call, messageId);
        if (ofMessage && ('id' in who || ofMessage === who.email)) target = { id: messageId };
      }
      let done;
      try {
        done = await deps.core.suppressions.unsubscribe(call, target, 'mailkit.email.unsubscribe');
      } catch (e) {
        if (isDomainError(e)) throw new MailkitError('Invalid ID_email or email');
        throw e;
      }
      // send_optout: the address is told it was unsubscribed (the built-in notice), once, when this call did it.
      if (boolOf(a.send_optout) && done.changed) await deps.core.subscriptions.sendOptoutNotice(call, done.email);
      const [sub] = await deps.core.lists.subscribers(call, { email: done.email });
      const id = 'id' in who ? who.id : (sub?.id ?? 0);
      return encoding === 'json' ? { error_status: '0', ID_email: String(id), status: '1' } : id;
    },
  },

  'mailkit.email.getstatus': {
    params: ['email_id'],
    aliases: { ID_email: 'email_id', email: 'email_id' },
    async handler({ call, deps, encoding }, a) {
      const who = emailOrId(a.email_id);
      if (!who) throw new MailkitError('Missing ID email');
      const email = 'email' in who ? who.email : await deps.core.suppressions.addressOfId(call, who.id);
      if (!email || !isValidEmail(email)) throw new MailkitError('');
      const [status, subscribers] = await Promise.all([deps.core.suppressions.status(call, email), deps.core.lists.subscribers(call, { email })]);
      if (!subscribers.length && !status.suppression) throw new MailkitError('');
      return [S.addressStatus(email, subscribers, status.suppression, encoding)];
    },
  },

  'mailkit.sendmail': {
    params: ['mailinglist_id', 'campaign_id', 'main', 'personal', 'address', 'custom'],
    aliases: { recipient: 'personal', contact: 'address', ID_user_list: 'mailinglist_id', ID_message: 'campaign_id' },
    rest: 'attachment',
    async handler({ call, deps, encoding }, a) {
      const listId = optionalId(a.mailinglist_id, 'ID_mailing_list');
      const mailingId = requiredId(a.campaign_id, 'ID_message');
      const main = isStruct(a.main) ? a.main : {};
      const sendTo = plainText(main.send_to)?.trim();
      if (!sendTo) throw new MailkitError('Missing send_to');
      if (!isValidEmail(sendTo)) throw new MailkitError('Bad email syntax');
      const { params } = userData(a.personal, a.address, a.custom);
      const content = userStruct(main.content);
      const attachments = (Array.isArray(a.attachment) ? a.attachment : a.attachment === undefined ? [] : [a.attachment]).filter(isStruct).map((x, i) => {
        const data = x.data;
        const bytes = Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data, 'base64') : null;
        if (!bytes) throw new MailkitError(`Invalid attachment ${i + 1}`);
        return { filename: plainText(x.name) || `attachment-${i + 1}`, data: bytes.toString('base64') };
      });
      const subject = plainText(main.subject);
      const messageData = main.message_data === undefined ? undefined : userText(main.message_data);
      const r = await deps.core.transactional
        .send(call, {
          mailingId,
          listId,
          email: sendTo,
          fields: { ...params, ...content },
          subject: subject || undefined,
          html: messageData || undefined,
          attachments,
        })
        .catch((e: unknown) => {
          if (isDomainError(e) && e.code === 'NOT_FOUND') throw new MailkitError(e.field === 'listId' ? 'Invalid ID_mailing_list' : 'Invalid ID_message');
          throw e;
        });
      // 0/1: the list's subscriber updated/inserted; 6/7: the same, but not sent (the address is suppressed).
      const status = (r.inserted ? 1 : 0) + (r.sent ? 0 : 6);
      const v = { data: r.emailId, data2: r.sendId, data3: r.messageId, status };
      return encoding === 'json' ? { ...Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])), error_status: 0 } : v;
    },
  },

  'mailkit.email.revalidate': {
    params: ['ID_email', 'ID_message', 'agreement', 'channel', 'dummy', 'language'],
    aliases: { email_id: 'ID_email' },
    async handler({ call, deps, encoding }, a) {
      // JSON may name the address `email` beside an empty ID_email (the documentation's example has both).
      const given = plainText(a.ID_email)?.trim() || plainText(a.email)?.trim() || '';
      const who = emailOrId(given);
      if (!who) throw new MailkitError('Missing ID_email');
      // agreement TRUE: the recipient consented, re-subscribed now; FALSE: a confirmation message first.
      const confirm = !boolOf(a.agreement);
      let r;
      try {
        r = await deps.core.members.revalidate(call, who, { confirm });
      } catch (e) {
        if (isDomainError(e)) throw new MailkitError(e.field === 'confirm' ? `${given} is in no mailing list` : `${given} is not unsubscribed`);
        throw e;
      }
      const text = confirm ? 'Sent subscribe email' : 'Email has been revalidated';
      const id = r.subscriberIds[0] ?? ('id' in who ? who.id : null);
      return encoding === 'json' ? { email: r.email, error_status: 0, ID_email: id === null ? '' : String(id), error: text } : text;
    },
  },

  'mailkit.profile.emails.list': {
    params: [],
    async handler({ call, deps }) {
      return S.senderAddresses(await deps.core.reports.senders(call));
    },
  },

  'mailkit.campaigns.create': {
    // XML: one struct; JSON: its members are the parameters. Values are base64, as the documentation asks.
    params: ['campaign'],
    async handler({ call, deps, encoding }, a) {
      const c = isStruct(a.campaign) ? a.campaign : a;
      const name = userText(c.name)?.trim();
      if (!name) throw new MailkitError('Missing name');
      const senderId = [plainText(c.ID_allow_email), userText(c.ID_allow_email)].map((t) => t?.trim() ?? '');
      if (!senderId[0]) throw new MailkitError('Missing ID_allow_email');
      const senders = await deps.core.reports.senders(call);
      const sender = senderId.map((t) => (/^\d{1,15}$/.test(t) ? senders.find((x) => x.id === Number(t)) : undefined)).find((x) => x);
      if (!sender) throw new MailkitError('Invalid ID_allow_email');
      const replyTo = userText(c.reply_to)?.trim() || null;
      if (replyTo !== null && !isValidEmail(replyTo)) throw new MailkitError('Invalid reply_to');
      // A campaign is an HTML message; without content its body is empty until sendmail's message_data
      // brings one (a message gets no kind of body its mailing lacks).
      const html = (typeof c.content === 'string' || Buffer.isBuffer(c.content) ? userText(c.content) : undefined) || EMPTY_HTML;
      if ((await deps.core.mailings.idByName(call, name)) !== undefined) throw new MailkitError('Campaign exist');
      const id = await deps.core.mailings.create(call, {
        dialect: 'mailkit',
        name,
        fromEmail: sender.email,
        replytoEmail: replyTo,
        subject: userText(c.subject) ?? '',
        html,
      });
      return encoding === 'json' ? { ID_message: String(id), error_status: 0 } : { ID_message: id };
    },
  },

  'mailkit.report.message.links': {
    params: ['ID_send', 'verdict'],
    async handler({ call, deps, encoding }, a) {
      const sendId = requiredId(a.ID_send, 'ID_send');
      // JSON clients may narrow by campaign too (Keboola's extractor pairs every campaign with every send).
      const mailingId = optionalId(a.ID_message, 'ID_message');
      const links = await deps.core.reports.links(call, sendId, mailingId, verdictOf(a.verdict)).catch((e: unknown) => {
        if (isDomainError(e) && e.code === 'NOT_FOUND') throw new MailkitError('Invalid ID_send');
        throw e;
      });
      return links.map((l) => S.record(S.linkFields(l), encoding, { jsonInts: true }));
    },
  },

  'mailkit.report.raw.responses': {
    params: ['ID_message', 'ID_send', 'ID_log', 'limit', 'verdict'],
    aliases: { ID_LOG: 'ID_log', ID_SEND_MESSAGE: 'ID_send_message' },
    async handler({ call, deps, encoding }, a) {
      const { filter, from, limit } = rawPage(a, 'ID_log');
      const messageId = optionalId(a.ID_send_message, 'ID_send_message');
      const rows = await deps.core.reports.responses(call, { ...filter, messageId, verdict: verdictOf(a.verdict) }, from, limit);
      return rows.map((r) => S.record(S.responseFields(r), encoding));
    },
  },

  'mailkit.mailinglist.unsubscribed': {
    params: ['range_from'],
    async handler({ call, deps, encoding }, a) {
      const rows = await deps.core.reports.unsubscribed(call, rangeBound(a.range_from, 'range_from', false));
      return rows.map((u) => S.record(S.unsubscribedFields(u), encoding));
    },
  },

  'mailkit.mailinglist.engagement': {
    params: ['ID_user_list', 'ID_email', 'limit'],
    aliases: { mailinglist_id: 'ID_user_list', ID_EMAIL: 'ID_email' },
    async handler({ call, deps, encoding }, a) {
      const listId = requiredId(a.ID_user_list, 'ID_user_list');
      const from = optionalId(a.ID_email, 'ID_email') ?? 1;
      const limit = countOf(a.limit, 'limit', RAW_LOG_MAX, RAW_LOG_MAX);
      const rows = await onList('ID_user_list', () => deps.core.reports.engagement(call, listId, from, limit));
      return rows.map((e) => S.record(S.engagementFields(e), encoding));
    },
  },
};
