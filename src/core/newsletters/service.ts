/**
 * Newsletters: mailings sent to a list, with several variants and deliveries (Emailicious' mailings; Mailkit's
 * `ID_send` is one delivery). Each variant is one message (language, sender, subject, text, a zip layout); each
 * of its deliveries is a send that, at its scheduled time, snapshots the list's active and unsuppressed subscribers
 * — by segment and language, minus its exclusions, at most its limit (db/manager.ts `takeSnapshots`) — and
 * sends them that variant through the pipeline.
 *
 * Decided where the sources are silent:
 * - A subscriber's language is its `language` field, else the list's default language. A variant with a
 *   language goes to the subscribers of that language; the one variant without a language (at most one)
 *   goes to everybody whose language no other variant has. Two variants of one language are refused.
 * - Segments (`segments`) and a delivery's `exclusions` are ids of segments of the list (see db/segments.ts).
 * - A variant without deliveries is kept and never sent; a delivery without a time, or with a past one,
 *   starts at once.
 * - The layout's images are stored with the variant and served under PUBLIC_URL
 *   (`/layouts/<key>/images/<name>`); the page's references to them are rewritten to those URLs in the
 *   message, while `layout.source` keeps the page as imported.
 * - Field names in errors are paths of the request (`variants.1.deliveries.0.limit`); a refused argument
 *   carries its reason (core/errors.ts), which Emailicious words as Django REST Framework does.
 */
import { randomBytes } from 'node:crypto';
import type { CallContext } from '../context.js';
import { isValidEmail } from '../email.js';
import { invalid, isDomainError, notFound } from '../errors.js';
import { trackingDefaults } from '../delivery/links.js';
import type { Store } from '../../db/store.js';
import type { NewVariant, SendRow, VariantRow } from '../../db/mailings.js';
import type { SendCounts } from '../../db/reports.js';
import { NO_ENGAGEMENT } from '../engagement.js';
import type { MailingStatus } from '../statuses.js';
import { readLayoutZip, type LayoutImage } from './layout.js';
import type { MessageCodec } from '../mailings/message.js';
import { checkTemplates, deriveText, senderDomain } from '../mailings/service.js';

export interface DeliveryInput {
  scheduledAt?: Date | null | undefined;
  limit?: number | null | undefined;
  exclusions?: number[] | undefined;
}

export interface VariantInput {
  language?: string | null | undefined;
  fromName?: string | null | undefined;
  fromEmail?: string | null | undefined;
  replytoEmail?: string | null | undefined;
  subject: string;
  text?: string | null | undefined;
  /** The zip layout's bytes. */
  zip?: Buffer | null | undefined;
  deliveries: DeliveryInput[];
}

export interface NewsletterInput {
  dialect: string;
  listId: number;
  name: string;
  campaignId?: number | null | undefined;
  segments?: number[] | undefined;
  variants: VariantInput[];
}

export interface DeliveryView {
  id: number;
  scheduledAt: Date | null;
  limit: number | null;
  exclusions: number[];
  status: MailingStatus;
  startedAt: Date | null;
  finishedAt: Date | null;
  totals: SendCounts;
}

export interface VariantView {
  id: number;
  language: string | null;
  fromName: string;
  fromEmail: string;
  replytoEmail: string;
  subject: string;
  text: string | null;
  /** The layout as imported (null without one); its id is the variant's. */
  layout: { id: number; source: string } | null;
  deliveries: DeliveryView[];
}

export interface NewsletterView {
  id: number;
  name: string | null;
  listId: number | null;
  campaignId: number | null;
  segments: number[];
  variants: VariantView[];
}

export interface NewslettersDeps {
  store: Store;
  messages: MessageCodec;
  sendLanes: number;
  publicUrl: string;
}

const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;
const ZERO: SendCounts = { total: 0, sent: 0, delivered: 0, failed: 0, bounced: 0, unsubscribed: 0, complained: 0, ...NO_ENGAGEMENT };

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The page's relative references to the layout's images (`images/x.png`, `./images/x.png`, in attributes
 * and CSS `url()`), made absolute under `base`. Only the zip's own images are touched.
 */
export function rewriteImageRefs(html: string, images: readonly LayoutImage[], base: string): string {
  let out = html;
  for (const img of images) {
    const ref = new RegExp(`(["'(=]\\s*)(?:\\./)?${escapeRegExp(img.path)}(?=\\s*["')\\s>])`, 'g');
    const url = `${base}/${img.path.split('/').map(encodeURIComponent).join('/')}`;
    out = out.replace(ref, (_m, lead: string) => `${lead}${url}`);
  }
  return out;
}

export function newslettersService(deps: NewslettersDeps) {
  const { store, messages } = deps;

  async function variantOf(
    i: number,
    v: VariantInput,
    list: { default_from_name: string | null; default_from_email: string | null; default_replyto_email: string | null },
  ): Promise<NewVariant> {
    const at = (f: string) => `variants.${i}.${f}`;
    const fromEmail = v.fromEmail || list.default_from_email;
    if (!fromEmail) throw invalid('a sender address is required', at('from_email'), { kind: 'required', because: 'the list has no default_from_email' });
    if (!isValidEmail(fromEmail)) throw invalid('not a valid e-mail address', at('from_email'), { kind: 'email' });
    const replyto = v.replytoEmail || list.default_replyto_email || null;
    if (replyto && !isValidEmail(replyto)) throw invalid('not a valid e-mail address', at('replyto_email'), { kind: 'email' });
    const fromName = v.fromName || list.default_from_name || null;
    if (!v.subject.trim()) throw invalid('the subject is blank', at('subject'), { kind: 'blank' });
    if (v.language != null && !LANGUAGE.test(v.language)) throw invalid(`"${v.language}" is not a valid language code (ISO 639-1).`, at('language'));
    let html: string | null = null;
    let source: string | null = null;
    let images: LayoutImage[] = [];
    let layoutKey: string | null = null;
    if (v.zip) {
      try {
        const layout = await readLayoutZip(v.zip);
        source = layout.html;
        images = layout.images;
      } catch (e) {
        if (isDomainError(e) && e.field) throw invalid(e.message, at(e.field), e.reason);
        throw e;
      }
      layoutKey = randomBytes(16).toString('base64url');
      html = rewriteImageRefs(source, images, `${deps.publicUrl}/layouts/${layoutKey}`);
    }
    const text = v.text || (html ? await deriveText(html) : null);
    if (!html && !text) throw invalid('A variant needs layout.zip_file or layout.text.', at('layout'));
    checkTemplates([
      [at('subject'), v.subject],
      [at('layout.zip_file'), html, v.text ? null : text],
      [at('layout.text'), v.text],
    ]);
    const deliveries = v.deliveries.map((d, j) => {
      if (d.limit != null && (!Number.isSafeInteger(d.limit) || d.limit < 1))
        throw invalid('a limit is at least 1', at(`deliveries.${j}.limit`), { kind: 'min', min: 1 });
      return { scheduledStart: d.scheduledAt ?? null, limit: d.limit ?? null, exclusions: d.exclusions ?? [] };
    });
    let raw = await messages.compose({ fromEmail, fromName, subject: v.subject, html, text });
    if (replyto) raw = messages.setHeader(raw, 'Reply-To', replyto);
    return {
      language: v.language ?? null,
      fromEmail,
      fromName,
      replytoEmail: replyto,
      subject: v.subject,
      html,
      text,
      rawMessage: raw,
      layoutSource: source,
      layoutKey,
      images,
      deliveries,
    };
  }

  function view(
    id: number,
    head: { name: string | null; list_id: number | null; campaign_id: number | null; segments: number[] },
    variants: VariantRow[],
    sends: SendRow[],
    counts: Map<number, SendCounts>,
  ): NewsletterView {
    return {
      id,
      name: head.name,
      listId: head.list_id,
      campaignId: head.campaign_id,
      segments: head.segments,
      variants: variants.map((v) => ({
        id: v.id,
        language: v.language,
        fromName: v.from_name ?? '',
        fromEmail: v.from_email,
        replytoEmail: v.replyto_email ?? '',
        subject: v.subject,
        text: v.text,
        layout: v.layout_source === null ? null : { id: v.id, source: v.layout_source },
        deliveries: sends
          .filter((s) => s.variant_id === v.id)
          .map((s) => ({
            id: s.id,
            scheduledAt: s.scheduled_start,
            limit: s.limit,
            exclusions: s.exclusions,
            status: s.status,
            startedAt: s.started_at,
            finishedAt: s.finished_at,
            totals: counts.get(s.id) ?? ZERO,
          })),
      })),
    };
  }

  return {
    /** A newsletter with its variants and deliveries; each delivery is queued for its time. */
    async create(ctx: CallContext, input: NewsletterInput): Promise<number> {
      const {
        rows: [list],
      } = await store.lists.details(ctx.accountId, input.listId);
      if (!list) throw invalid(`no list ${input.listId}`, 'list', { kind: 'unknown', id: input.listId });
      if (!input.name.trim()) throw invalid('the name is blank', 'name', { kind: 'blank' });
      if (!input.variants.length) throw invalid('A mailing needs at least one variant.', 'variants');
      const languages = input.variants.map((v) => v.language ?? null);
      if (languages.filter((l) => l === null).length > 1) throw invalid('At most one variant may have no language.', 'variants');
      const dup = languages.find((l, i) => l !== null && languages.indexOf(l) !== i);
      if (dup) throw invalid(`Two variants have the language "${dup}".`, 'variants');
      const segmentIds = [...(input.segments ?? []), ...input.variants.flatMap((v) => v.deliveries.flatMap((d) => d.exclusions ?? []))];
      const known = await store.segments.ofList(ctx.accountId, list.id, segmentIds);
      const unknown = (input.segments ?? []).find((s) => !known.has(s));
      if (unknown !== undefined) throw invalid(`no segment ${unknown} in list ${list.id}`, 'segments', { kind: 'unknown', id: unknown });
      input.variants.forEach((v, i) =>
        v.deliveries.forEach((d, j) => {
          const bad = (d.exclusions ?? []).find((s) => !known.has(s));
          if (bad !== undefined)
            throw invalid(`no segment ${bad} in list ${list.id}`, `variants.${i}.deliveries.${j}.exclusions`, { kind: 'unknown', id: bad });
        }),
      );
      const variants: NewVariant[] = [];
      for (const [i, v] of input.variants.entries()) variants.push(await variantOf(i, v, list));
      return await store.transaction(async (tx) => {
        const made = await tx.mailings.insertListMailing(ctx.accountId, {
          ...trackingDefaults(input.dialect),
          dialect: input.dialect,
          name: input.name.trim(),
          campaignId: input.campaignId ?? null,
          listId: list.id,
          segments: input.segments ?? [],
          domainName: senderDomain(variants[0]!.fromEmail),
          variants,
        });
        if (!made) throw invalid(`a newsletter named ${JSON.stringify(input.name.trim())} exists`, 'name', { kind: 'taken' });
        const now = Date.now();
        for (const s of made.sends)
          await tx.jobs.enqueueSend(s.id, s.scheduledStart && s.scheduledStart.getTime() > now ? s.scheduledStart : null, deps.sendLanes);
        return made.id;
      });
    },

    /** A page of the account's newsletters, of one list when given, by id. */
    async page(ctx: CallContext, q: { listId: number | null }, offset: number, limit: number) {
      const { count, rows } = await store.mailings.summaries(ctx.accountId, { listId: q.listId }, offset, limit);
      return { count, rows: rows.map((r) => ({ id: r.id, name: r.name, campaignId: r.campaign_id, listId: r.list_id })) };
    },

    /** One newsletter with its variants and their deliveries, each with its status and totals. */
    async get(ctx: CallContext, id: number): Promise<NewsletterView> {
      const {
        rows: [head],
      } = await store.mailings.summaries(ctx.accountId, { listId: null, ids: [id] }, 0, 1);
      if (!head) throw notFound('newsletter', id);
      const [variants, sends, reports] = await Promise.all([
        store.mailings.variants([id]),
        store.mailings.sends([id]),
        store.reports.sends(ctx.accountId, { mailingId: id }),
      ]);
      return view(id, head, variants, sends, new Map(reports.map((r) => [r.send_id, r])));
    },

    /** An image of a layout, as served under PUBLIC_URL (no account: the key is the secret). */
    layoutImage: (key: string, path: string) => store.mailings.layoutImage(key, path),
  };
}
export type NewslettersService = ReturnType<typeof newslettersService>;
