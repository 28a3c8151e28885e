/**
 * Reading a transactional send (`POST .../transactional/<campaign>/send`) as Sender's page and its real
 * clients write it: `to_email` (body or query; it wins over `to`), or `to` / `cc` / `bcc` lists of
 * `{email, name}`; `args` (an object or a JSON string, echoed back in the form it came); `attachments`
 * `[{filename, mime_type, data (base64)}]` (echoed with `data` as "<binary data>"); `headers` (an object, or a
 * JSON string of one even in a JSON body, as Yandex Pay's client sends it); `from_email` / `from_name` (not
 * echoed); `async` (default true), `countdown` (none), `expires` (86400 s); `ignore_empty_email`; `has_ugc`
 * and `for_testing` (read and echoed; they change nothing in Mailgate). `to_yandex_puid` cannot be resolved
 * without Yandex's user directory: it counts as no address (400, or 202 with ignore_empty_email).
 * Headers that would break the message (Content-*, MIME-Version, Message-ID, From, To, Cc, Bcc, Date,
 * Return-Path, List-Unsubscribe*, DKIM-Signature, Received, X-Mailgate-*) are ignored.
 */
import { isValidEmail } from '../../core/email.js';
import type { Address } from '../../core/transactional/service.js';
import { SenderError } from './errors.js';
import { boolParam, durationParam, jsonParam, stringParam, type Params } from './values.js';

const RESERVED_HEADER = /^(content-.*|mime-version|message-id|from|sender|to|cc|bcc|date|return-path|list-unsubscribe(-post)?|dkim-signature|received|x-mailgate-.*)$/i;
const HEADER_NAME = /^[!-9;-~]{1,76}$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

export interface TransactionalRequest {
  to: Address[];
  cc: Address[];
  bcc: Address[];
  args: Record<string, unknown>;
  attachments: { filename: string; data: string; contentType: string; charset?: string; mime: string }[];
  headers: [string, string][];
  from?: Address;
  async: boolean;
  countdown: number | null;
  expires: number;
  ignoreEmpty: boolean;
  echo: { source: Record<string, unknown>; control: Record<string, unknown> };
}

function addresses(p: Params, name: string): Address[] {
  const list = (jsonParam(p, name, 'array') as unknown[] | undefined) ?? [];
  return list.map((a, i) => {
    const item = (typeof a === 'string' ? { email: a } : a) as { email?: unknown; name?: unknown } | null;
    const email = typeof item?.email === 'string' ? item.email.trim() : '';
    if (!isValidEmail(email)) throw new SenderError(400, { result: { status: 'ERROR', error: { [name]: Object.assign(Array(i + 1).fill({}), { [i]: { email: ['Invalid value'] } }) } } });
    return { email, name: typeof item?.name === 'string' && item.name ? item.name : null };
  });
}

export function transactionalRequest(p: Params): TransactionalRequest {
  const toEmail = stringParam(p, 'to_email');
  if (toEmail && !isValidEmail(toEmail)) throw SenderError.field('to_email', 'Enter a valid email address.');
  const to = toEmail ? [{ email: toEmail, name: null }] : addresses(p, 'to');
  const cc = addresses(p, 'cc');
  const bcc = addresses(p, 'bcc');
  const args = (jsonParam(p, 'args', 'object') as Record<string, unknown> | undefined) ?? {};

  const rawAttachments = (jsonParam(p, 'attachments', 'array') as unknown[] | undefined) ?? [];
  const attachments = rawAttachments.map((a, i) => {
    const x = (a ?? {}) as { filename?: unknown; mime_type?: unknown; data?: unknown };
    if (typeof x.filename !== 'string' || !x.filename) throw SenderError.field('attachments', `attachments[${i}]: filename is required.`);
    if (typeof x.data !== 'string' || !BASE64.test(x.data)) throw SenderError.field('attachments', `attachments[${i}]: data must be base64.`);
    // A MIME type may carry parameters (`text/plain;charset=utf-8`): the charset is kept, the rest dropped.
    const mime = typeof x.mime_type === 'string' && x.mime_type.trim() ? x.mime_type.trim() : 'application/octet-stream';
    const contentType = mime.split(';')[0]!.trim().toLowerCase();
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) throw SenderError.field('attachments', `attachments[${i}]: not a MIME type: ${JSON.stringify(mime)}.`);
    const charset = /;\s*charset\s*=\s*"?([\w.:-]+)"?/i.exec(mime)?.[1];
    return { filename: x.filename, data: x.data.replace(/\s+/g, ''), contentType, ...(charset ? { charset } : {}), mime };
  });

  const rawHeaders = (jsonParam(p, 'headers', 'object') as Record<string, unknown> | undefined) ?? {};
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!HEADER_NAME.test(name)) throw SenderError.field('headers', `Not a valid header name: ${JSON.stringify(name)}.`);
    if (typeof value !== 'string' && typeof value !== 'number') throw SenderError.field('headers', `${name}: a header value is a string.`);
    if (RESERVED_HEADER.test(name)) continue;
    headers.push([name, String(value).replace(/[\r\n]+/g, ' ')]);
  }

  const fromEmail = stringParam(p, 'from_email');
  if (fromEmail && !isValidEmail(fromEmail)) throw SenderError.field('from_email', 'Invalid value');
  const fromName = stringParam(p, 'from_name');

  const async = boolParam(p, 'async', true);
  const countdown = durationParam(p, 'countdown') ?? null;
  const expires = durationParam(p, 'expires') ?? 86_400;
  const ignoreEmpty = boolParam(p, 'ignore_empty_email', false);
  const forTesting = boolParam(p, 'for_testing', false);
  boolParam(p, 'has_ugc', false);

  const source: Record<string, unknown> = {
    to: toEmail ? [] : to.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
    cc: cc.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
    bcc: bcc.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
  };
  if (toEmail) source.to_email = toEmail;
  if (p.args !== undefined) source.args = p.args;
  if (p.attachments !== undefined) source.attachments = attachments.map((a) => ({ filename: a.filename, mime_type: a.mime, data: '<binary data>' }));
  if (p.headers !== undefined) source.headers = rawHeaders;
  if (p.ignore_empty_email !== undefined) source.ignore_empty_email = ignoreEmpty;
  return {
    to,
    cc,
    bcc,
    args,
    attachments,
    headers,
    ...(fromEmail ? { from: { email: fromEmail, name: fromName || null } } : {}),
    async,
    countdown,
    expires,
    ignoreEmpty,
    echo: { source, control: { async, countdown, expires, for_testing: forTesting } },
  };
}
