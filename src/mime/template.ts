/**
 * A whole message as a template: compiled once per mailing into static byte runs and slots, rendered per
 * recipient by concatenation. The message is split with mailsplit, so every part we do not personalize goes
 * out byte for byte as the client wrote it.
 *
 * Slots (each a template of src/core/delivery/template.ts: `{{ field }}` by concatenation, other Jinja2 by
 * the engine, compiled here once):
 * - root header lines whose decoded value is a template (a personalized Subject): rendered, then
 *   MIME-encoded (RFC 2047) and folded when they are not plain ASCII;
 * - leaf text parts (text/plain, text/html; not attachments) whose decoded text is a template: the transfer
 *   encoding (quoted-printable, base64) and the charset are decoded once, the template rendered per
 *   recipient (in text/html with every `{{ }}` HTML-escaped unless `autoescape` is false), and the result
 *   encoded again. A personalized part is always sent
 *   as UTF-8 (its Content-Type charset is rewritten), since a recipient's name may not fit the part's own
 *   charset; a 7bit part becomes quoted-printable for the same reason. 8bit, quoted-printable and base64
 *   parts keep their encoding, except that quoted-printable ones go as 8bit to a relay announcing 8BITMIME
 *   (render's `eightBit`).
 *
 * Root headers named in RECIPIENT_HEADERS (To, Message-ID, List-Unsubscribe...) are dropped: the sender puts
 * the recipient's own versions in front. Line ends are CRLF throughout (messages are normalized on store).
 *
 * A template that cannot compile makes compileMessageTemplate throw a MessagePartError naming the part; a
 * render that fails (or that a limit of the engine stops) makes render throw one, for that recipient only.
 */
import { Splitter } from '@zone-eu/mailsplit';
import iconv from 'iconv-lite';
import libmime from 'libmime';
import libqp from 'libqp';
import { compileTemplate, needsEngine, TemplateError, type CompiledTemplate, type Fields, type TemplateValues } from '../core/delivery/template.js';
import type { PartTracking } from '../core/delivery/links.js';

/** Root headers replaced per recipient. */
export const RECIPIENT_HEADERS = new Set([
  'to',
  'cc',
  'bcc',
  'message-id',
  'x-mailgate-mailing',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-id',
  'feedback-id',
]);

/** What a template holds somewhere (`{{`, `{%`, `{#`): text without it is never one. */
const TEMPLATE_MARK = /\{[{%#]/;
const CRLF = '\r\n';

/** A template of one part of the message that cannot compile or render: `html part: line 3: ...`. */
export class MessagePartError extends Error {
  constructor(
    /** `subject` (or another header's name, lower-cased), `html` or `text`. */
    readonly part: string,
    readonly error: TemplateError,
  ) {
    super(`${part === 'html' || part === 'text' ? `${part} part` : part}: ${error.message}`);
    this.name = 'MessagePartError';
  }
}

function partTemplate(part: string, source: string, html: boolean, tracking: PartTracking | null = null): CompiledTemplate {
  try {
    return compileTemplate(source, { html, tracking });
  } catch (e) {
    throw e instanceof TemplateError ? new MessagePartError(part, e) : e;
  }
}

function renderPart(part: string, t: CompiledTemplate, values: TemplateValues | Fields): string {
  try {
    return t.render(values);
  } catch (e) {
    throw e instanceof TemplateError ? new MessagePartError(part, e) : e;
  }
}

type Slot =
  | { kind: 'header'; name: string; template: CompiledTemplate }
  | {
      kind: 'body';
      template: CompiledTemplate;
      part: 'html' | 'text';
      encoding: 'base64' | 'quoted-printable' | '8bit';
      /** A quoted-printable part's own header block, and the same block saying 8bit (used when allowed). */
      headers?: { encoded: Buffer; eightBit: Buffer };
    };
type Segment = Buffer | Slot;

export interface MessageTemplate {
  /** Fields the message's `{{ field }}` templates refer to (for diagnostics and tests). */
  readonly fieldNames: readonly string[];
  /**
   * The recipient's message: `recipientHeaders` first, then the message with its templates rendered from
   * `values` (a MessagePartError when one cannot be).
   * `eightBit`: the relay announced 8BITMIME (RFC 6152): personalized quoted-printable parts go as 8bit
   * UTF-8 instead, which saves their encoding per recipient (measured: see `npm run bench -- encoding`),
   * unless a line would be over 998 octets or hold a bare CR or NUL (RFC 5322 2.1.1, RFC 2045 2.8).
   */
  render(values: TemplateValues | Fields, recipientHeaders: ReadonlyArray<readonly [string, string]>, opts?: { eightBit?: boolean }): Buffer;
}

/** Bare LF (and CR LF) to CRLF: SMTP needs CRLF, and every later step may then assume it. */
export function normalizeLineEnds(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  if (!/(?<!\r)\n/.test(text)) return raw;
  return Buffer.from(text.replace(/\r?\n/g, CRLF), 'latin1');
}

interface SplitItem {
  type: 'node' | 'data' | 'body';
  value?: Buffer;
  node?: SplitNode;
}
/** The part of mailsplit's MimeNode we use (its typings describe the splitter stream loosely). */
export interface SplitNode {
  root: boolean;
  contentType: string | false;
  charset: string | false;
  encoding: string | false;
  multipart: string | false;
  disposition: string | false;
  headers: { getList(): { key: string; line: string }[]; update(key: string, value: string): void; remove(key: string): void } | false;
  getHeaders(): Buffer;
  getDecoder(): NodeJS.ReadWriteStream;
  setCharset(charset: string): void;
}

/** The message as mailsplit's sequence of nodes, multipart glue and body chunks (bodies joined per node). */
export async function splitMessage(raw: Buffer): Promise<SplitItem[]> {
  const items: SplitItem[] = [];
  await new Promise<void>((resolve, reject) => {
    const splitter = new Splitter();
    // Its typings declare only the 'data' event; it is a Transform stream.
    const stream = splitter as unknown as NodeJS.EventEmitter;
    splitter.on('data', (d: { type: 'node' | 'data' | 'body'; value?: Buffer }) => {
      const last = items[items.length - 1];
      if (d.type === 'body' && last?.type === 'body') last.value = Buffer.concat([last.value!, d.value!]);
      else items.push(d.type === 'node' ? { type: 'node', node: d as unknown as SplitNode } : { type: d.type, value: d.value! });
    });
    stream.once('end', resolve);
    stream.once('error', reject);
    splitter.end(raw);
  });
  return items;
}

/** A leaf's body with its transfer encoding undone. */
export async function decodeBody(node: SplitNode, body: Buffer): Promise<Buffer> {
  const decoder = node.getDecoder();
  const chunks: Buffer[] = [];
  decoder.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => {
    decoder.once('end', resolve);
    decoder.once('error', reject);
    decoder.end(body);
  });
  return Buffer.concat(chunks);
}

export function charsetDecode(bytes: Buffer, charset: string | false): string {
  const cs = libmime.normalizeCharset(charset || 'us-ascii');
  // us-ascii parts often carry 8-bit bytes anyway: read them as Latin-1 rather than lose them.
  if (cs === 'US-ASCII' || cs === 'ASCII') return bytes.toString('latin1');
  return iconv.encodingExists(cs) ? iconv.decode(bytes, cs) : bytes.toString('utf8');
}

export const isTextLeaf = (n: SplitNode) => !n.multipart && (n.contentType === 'text/plain' || n.contentType === 'text/html') && n.disposition !== 'attachment';

function base64Lines(buf: Buffer): string {
  return buf.toString('base64').replace(/.{76}(?=.)/g, `$&${CRLF}`);
}

/**
 * The text as an 8bit body, or null when 8bit cannot carry it: a line over 998 octets, a NUL, or a CR or LF
 * that is not part of a CRLF (rendered text keeps the CRLF of the stored message; a field value with a bare
 * line break goes quoted-printable, which normalizes it). One pass over the bytes.
 */
function eightBitBody(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.indexOf(0) >= 0) return null;
  // Native scans from line end to line end: each LF preceded by its CR, no other CR, no line over 998 octets.
  let from = 0;
  for (let nl = bytes.indexOf(0x0a); nl >= 0; nl = bytes.indexOf(0x0a, from)) {
    if (nl - 1 - from > 998 || bytes[nl - 1] !== 0x0d || bytes.indexOf(0x0d, from) !== nl - 1) return null;
    from = nl + 1;
  }
  return bytes.length - from > 998 || bytes.indexOf(0x0d, from) >= 0 ? null : bytes;
}

function encodeBody(text: string, encoding: 'base64' | 'quoted-printable' | '8bit'): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (encoding === 'base64') return Buffer.from(base64Lines(bytes), 'ascii');
  if (encoding === 'quoted-printable') return Buffer.from(libqp.wrap(libqp.encode(bytes), 76), 'ascii');
  return Buffer.from(text.replace(/\r?\n/g, CRLF), 'utf8');
}

/** `Name: value`, MIME-encoded and folded when the value is not short plain ASCII. */
export function headerLine(name: string, value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  const line = `${name}: ${libmime.isPlainText(clean) ? clean : libmime.encodeWords(clean, 'Q', 52)}`;
  return libmime.foldLines(line, 76).replace(/\s+$/, '');
}

export interface MessageTemplateOptions {
  /** HTML-escape every `{{ }}` of text/html parts (default true; false: only `|e` escapes, as Jinja2's default). */
  autoescape?: boolean;
  /**
   * `{{ unsubscribe }}` written url-encoded (an editor's href: `%7B%7B%20unsubscribe%20%7D%7D` or
   * `%7B%7Bunsubscribe%7D%7D`) is the template's, as the original CloudMailing server reads it.
   */
  encodedUnsubscribe?: boolean;
  /**
   * How text/html parts are tracked (src/core/delivery/links.ts): their links and pixel are placed here, once,
   * and filled per recipient from the values' Tracker. An html part with something to track is a slot even
   * without a template in it.
   */
  tracking?: PartTracking | null;
}

const ENCODED_UNSUBSCRIBE = /%7B%7B(?:%20)?unsubscribe(?:%20)?%7D%7D/g;

export async function compileMessageTemplate(raw: Buffer, opts: MessageTemplateOptions = {}): Promise<MessageTemplate> {
  const autoescape = opts.autoescape ?? true;
  const items = await splitMessage(normalizeLineEnds(raw));
  const segments: Segment[] = [];
  const fieldNames = new Set<string>();
  const push = (s: Segment) => {
    const last = segments[segments.length - 1];
    if (Buffer.isBuffer(s) && Buffer.isBuffer(last)) segments[segments.length - 1] = Buffer.concat([last, s]);
    else segments.push(s);
  };

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.type !== 'node') {
      push(item.value!);
      continue;
    }
    const node = item.node!;
    const next = items[i + 1];
    const body = next?.type === 'body' ? next.value! : null;
    let bodySlot: Slot | null = null;
    if (body && isTextLeaf(node)) {
      let text = charsetDecode(await decodeBody(node, body), node.charset);
      if (opts.encodedUnsubscribe) text = text.replace(ENCODED_UNSUBSCRIBE, '{{ unsubscribe }}');
      const part = node.contentType === 'text/html' ? 'html' : 'text';
      const tracking = part === 'html' ? (opts.tracking ?? null) : null;
      if (TEMPLATE_MARK.test(text) || tracking) {
        const template = partTemplate(part, text, part === 'html' && autoescape, tracking);
        if (template.personalized) {
          const encoding = node.encoding === 'base64' ? 'base64' : node.encoding === '8bit' || node.encoding === 'binary' ? '8bit' : 'quoted-printable';
          bodySlot = { kind: 'body', template, part, encoding };
          template.fieldNames.forEach((f) => fieldNames.add(f));
          if (node.headers) {
            node.setCharset('utf-8');
            // A part's own header block has a variant saying 8bit; a message that is one text part keeps its
            // root headers as compiled lines, and quoted-printable.
            if (encoding === 'quoted-printable' && !node.root) {
              node.headers.update('Content-Transfer-Encoding', '8bit');
              const eightBit = node.getHeaders();
              node.headers.update('Content-Transfer-Encoding', encoding);
              bodySlot.headers = { encoded: node.getHeaders(), eightBit };
            } else node.headers.update('Content-Transfer-Encoding', encoding);
          }
        }
      }
    }
    if (node.root) compileRootHeaders(node, push, fieldNames);
    // A part with two header blocks has them in its body slot (which one goes depends on the body).
    else if (!(bodySlot?.kind === 'body' && bodySlot.headers)) push(node.getHeaders());
    if (body) {
      push(bodySlot ?? body);
      i++;
    }
  }

  return {
    fieldNames: [...fieldNames],
    render(values, recipientHeaders, opts) {
      const out: Buffer[] = [Buffer.from(recipientHeaders.map(([k, v]) => `${k}: ${v}${CRLF}`).join(''), 'utf8')];
      for (const s of segments) {
        if (Buffer.isBuffer(s)) out.push(s);
        else if (s.kind === 'header') out.push(Buffer.from(headerLine(s.name, renderPart(s.name.toLowerCase(), s.template, values)) + CRLF, 'utf8'));
        else {
          const text = renderPart(s.part, s.template, values);
          const eightBit = opts?.eightBit && s.headers ? eightBitBody(text) : null;
          if (s.headers) out.push(eightBit ? s.headers.eightBit : s.headers.encoded);
          out.push(eightBit ?? encodeBody(text, s.encoding));
        }
      }
      return Buffer.concat(out);
    },
  };
}

/** Root header lines: recipient headers dropped, personalized ones as slots, the rest as they are. */
function compileRootHeaders(node: SplitNode, push: (s: Segment) => void, fieldNames: Set<string>): void {
  const lines = node.headers ? node.headers.getList() : [];
  for (const { key, line } of lines) {
    if (RECIPIENT_HEADERS.has(key)) continue;
    const colon = line.indexOf(':');
    const value = libmime.decodeWords(
      line
        .slice(colon + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim(),
    );
    // The Subject is a Jinja2 template, as the original renders it; other headers know only `{{ field }}`.
    const template = TEMPLATE_MARK.test(value) && (key === 'subject' || !needsEngine(value)) ? partTemplate(key, value, false) : null;
    if (template?.personalized) {
      template.fieldNames.forEach((f) => fieldNames.add(f));
      push({ kind: 'header', name: line.slice(0, colon).trim(), template });
    } else push(Buffer.from(line.replace(/\r?\n?$/, CRLF), 'latin1'));
  }
  push(Buffer.from(CRLF, 'latin1'));
}
