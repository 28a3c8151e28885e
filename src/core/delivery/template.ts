/**
 * Personalization: subject, html and text are Jinja2 templates, as the original CloudMailing server and
 * Yandex Sender render them, compiled once per mailing and part and rendered per recipient.
 *
 * Two paths, one meaning:
 * - a template whose only construct is `{{ field }}` (the common case, and all Mailgate knew before) is split
 *   once into literal and field parts and rendered by concatenation: no engine, byte for byte as before.
 *   Field names are matched as given, then case-insensitively; a dotted name (`{{ user.name }}`) is a flat
 *   field of that name, else the path into nested values; a missing field renders empty;
 * - anything else (`{% if %}`, `{% for %}`, filters, `{% set %}`, expressions) is compiled by the Jinja2
 *   engine (jinja.ts: sandboxed, with limits) and rendered from the recipient's values as JSON data.
 * Either way a recipient's data is data: a value holding `{{ 7*7 }}` renders as those characters.
 *
 * Escaping is decided per template when it is compiled (`html`): every `{{ }}` HTML-escaped, or nothing
 * escaped unless the template says `|e` (Jinja2's default, which the original CloudMailing server uses).
 *
 * Tracking (`tracking`, html parts; the rules are links.ts') is decided when compiling too: on the fast path
 * each tracked link's href becomes a part of its own and the pixel a part at its place, so a recipient's
 * render only asks its Tracker what goes there; an engine template gets each tracked href wrapped in a
 * `{% filter mailgate_link(n) %}` block (rendered wherever and as often as its construct renders it), and
 * its pixel placed in the rendered text. A render without a Tracker leaves links as written and adds no pixel.
 */
import { compileJinja, TemplateError } from './jinja.js';
import { LINK, type PartTracking, type Tracker } from './links.js';

export { TemplateError } from './jinja.js';

export type Fields = ReadonlyMap<string, string>;

/**
 * One recipient's values: the record of its fields (JSON values, nested ones kept) and the values Mailgate
 * adds (`email`, the unsubscribe link), which win over fields of the same name. The fast path reads them as
 * a map of texts, the engine as an object; each view is built on first use.
 */
export class TemplateValues {
  private map: Map<string, string> | undefined;
  private object: Record<string, unknown> | undefined;
  constructor(
    private readonly record: Readonly<Record<string, unknown>>,
    private readonly extra: Readonly<Record<string, string>> = {},
    /** What this recipient's tracked links and pixel are (none: links as written, no pixel). */
    readonly tracker?: Tracker,
  ) {}
  static of(values: TemplateValues | Fields): TemplateValues {
    return values instanceof TemplateValues ? values : new TemplateValues(Object.fromEntries(values));
  }
  get fields(): Fields {
    if (!this.map) {
      this.map = fieldMap(this.record);
      for (const [k, v] of Object.entries(this.extra)) {
        this.map.set(k, v);
        this.map.set(k.toLowerCase(), v);
      }
    }
    return this.map;
  }
  /** A plain object without prototype: a field named `constructor` or `__proto__` is just a field. */
  get data(): Record<string, unknown> {
    if (!this.object) {
      const o = Object.create(null) as Record<string, unknown>;
      for (const [k, v] of Object.entries(this.record)) o[k] = v;
      for (const [k, v] of Object.entries(this.extra)) o[k] = v;
      this.object = o;
    }
    return this.object;
  }
}

type Field = { field: string; path: string[] | null };
/** A tracked link's href: its parts, and the href as written (the original's `o=`). */
type Link = { link: string; parts: (string | Field)[] };
/** Where the pixel goes; `pixel`: what is there without one (the source's last line break at the end). */
type Part = string | Field | Link | { pixel: string };

export interface CompiledTemplate {
  /** Field names of a `{{ field }}` template (for diagnostics and tests); empty for an engine template. */
  readonly fieldNames: readonly string[];
  /** False when rendering can only give the source back (no field, no Jinja2). */
  readonly personalized: boolean;
  /** Throws TemplateError when the engine's render fails or a limit stops it. */
  render(values: TemplateValues | Fields): string;
}

export interface TemplateOptions {
  /** HTML-escape every `{{ }}` (values and, in engine templates, expressions). */
  html?: boolean;
  /** An html part's tracked links and pixel (links.ts), filled per recipient from its values' Tracker. */
  tracking?: PartTracking | null;
}

const FIELD = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
/** A whole Jinja2 construct: an expression, a statement or a comment, closed. */
const JINJA = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/;

/**
 * Does the source use Jinja2 beyond `{{ field }}`? Only a closed construct counts: a lone `{{` or `{%` (a
 * text that was never meant as a template) stays text, as it always was.
 */
export function needsEngine(source: string): boolean {
  return JINJA.test(source.replace(FIELD, ''));
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** A scalar at `path` inside nested values, as text; anything else undefined. */
function walk(data: Record<string, unknown>, path: string[]): string | undefined {
  let v: unknown = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Where each closed Jinja2 construct of the source starts and ends. */
function constructSpans(source: string): [number, number][] {
  return [...source.matchAll(new RegExp(JINJA.source, 'g'))].map((m) => [m.index, m.index + m[0].length]);
}
const inside = (spans: [number, number][], at: number) => spans.some(([a, b]) => a < at && at < b);

/**
 * The links of the source to track (links.ts says which): [start of the href, its end], in document order;
 * none that begins or ends inside a construct, or whose href holds one left open.
 */
export function trackedLinks(source: string): [number, number][] {
  const spans = constructSpans(source);
  const out: [number, number][] = [];
  for (const m of source.matchAll(LINK)) {
    const from = m.index + m[1]!.length;
    const to = from + m[2]!.length;
    if (inside(spans, m.index) || inside(spans, from) || inside(spans, to) || /\{[{%#]/.test(m[2]!.replace(new RegExp(JINJA.source, 'g'), ''))) continue;
    out.push([from, to]);
  }
  return out;
}

/** The index of the last `</body>` of an html text (any case), or -1. */
function bodyEnd(text: string): number {
  let at = -1;
  for (const m of text.matchAll(/<\/body\s*>/gi)) at = m.index;
  return at;
}

/**
 * The pixel in rendered html: just before the last `</body>` (`body`, else at the end), or after everything
 * (`end`, the original CloudMailing's place). The original appends it to Jinja2's output, which has lost the
 * template's last line break (Jinja2 drops it; Mailgate's engine keeps it): `trailing` is that line break of
 * the source, dropped here too so the bytes are the original's.
 */
function placePixel(html: string, pixel: string, where: 'end' | 'body', trailing = ''): string {
  const at = where === 'body' ? bodyEnd(html) : -1;
  if (at >= 0) return html.slice(0, at) + pixel + html.slice(at);
  return (trailing && html.endsWith(trailing) ? html.slice(0, -trailing.length) : html) + pixel;
}

/** The source's last line break, which Jinja2 drops from a template. */
const trailingBreak = (source: string) => /\r?\n$/.exec(source)?.[0] ?? '';

/** An html text that is no template (a transactional message's own html) with its links and pixel tracked. */
export function trackLiteralHtml(html: string, tracking: PartTracking, tracker: Tracker): string {
  let index = 0;
  const out = tracking.links ? html.replace(LINK, (_all, open: string, href: string, close: string) => open + tracker.link(index++, href, href) + close) : html;
  return tracking.pixel ? placePixel(out, tracker.pixel, tracking.pixel === 'body' ? 'body' : 'end') : out;
}

/** Literal and `{{ field }}` parts of a text without other constructs. */
function fieldParts(source: string): (string | Field)[] {
  const parts: (string | Field)[] = [];
  let last = 0;
  for (const m of source.matchAll(FIELD)) {
    if (m.index > last) parts.push(source.slice(last, m.index));
    const field = m[1]!;
    parts.push({ field, path: field.includes('.') ? field.split('.') : null });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  return parts;
}

/** Throws TemplateError (with the line) when the source is Jinja2 that cannot compile. */
export function compileTemplate(source: string, opts: TemplateOptions = {}): CompiledTemplate {
  const html = opts.html ?? false;
  const tracking = opts.tracking ?? null;
  const links = tracking?.links ? trackedLinks(source) : [];
  const pixel = tracking?.pixel ?? null;
  if (needsEngine(source)) {
    // Each tracked href inside a filter block whose number finds the href as written.
    let wrapped = source;
    const written: string[] = links.map(([a, b]) => source.slice(a, b));
    for (let i = links.length - 1; i >= 0; i--) {
      const [a, b] = links[i]!;
      wrapped = `${wrapped.slice(0, a)}{% filter mailgate_link(${i})|safe %}${wrapped.slice(a, b)}{% endfilter %}${wrapped.slice(b)}`;
    }
    const t = compileJinja(wrapped, { html });
    return {
      fieldNames: [],
      personalized: true,
      render: (values) => {
        const v = TemplateValues.of(values);
        const tracker = v.tracker;
        let index = 0;
        const link = tracker && links.length ? (n: number, rendered: string) => tracker.link(index++, written[n] ?? '', rendered) : undefined;
        const out = t.render(v.data, link);
        return tracker && pixel ? placePixel(out, tracker.pixel, pixel, trailingBreak(source)) : out;
      },
    };
  }
  const parts: Part[] = [];
  let last = 0;
  for (const [a, b] of links) {
    parts.push(...fieldParts(source.slice(last, a)), { link: source.slice(a, b), parts: fieldParts(source.slice(a, b)) });
    last = b;
  }
  const rest = source.slice(last);
  const at = pixel === 'body' ? bodyEnd(rest) : -1;
  const trailing = pixel === 'end' ? trailingBreak(rest) : '';
  if (at >= 0) parts.push(...fieldParts(rest.slice(0, at)), { pixel: '' }, ...fieldParts(rest.slice(at)));
  else if (pixel) parts.push(...fieldParts(rest.slice(0, rest.length - trailing.length)), { pixel: trailing });
  else parts.push(...fieldParts(rest));
  const fields = (ps: readonly Part[]): Field[] => ps.flatMap((p) => (typeof p === 'string' || 'pixel' in p ? [] : 'link' in p ? fields(p.parts) : [p]));
  const fieldNames = fields(parts).map((p) => p.field);
  const lookup = (p: Field, fields: Fields, v: TemplateValues | null) => {
    const s = fields.get(p.field) ?? fields.get(p.field.toLowerCase()) ?? (p.path && v ? walk(v.data, p.path) : undefined) ?? '';
    return html ? escapeHtml(s) : s;
  };
  return {
    fieldNames,
    personalized: fieldNames.length > 0 || links.length > 0 || pixel !== null,
    render(values) {
      const v = values instanceof TemplateValues ? values : null;
      const fields = v ? v.fields : (values as Fields);
      const tracker = v?.tracker;
      let out = '';
      let index = 0;
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else if ('field' in p) out += lookup(p, fields, v);
        else if ('link' in p) {
          let href = '';
          for (const q of p.parts) href += typeof q === 'string' ? q : lookup(q, fields, v);
          out += tracker ? tracker.link(index++, p.link, href) : href;
        } else out += tracker ? tracker.pixel : p.pixel;
      }
      return out;
    },
  };
}

/**
 * Why the source cannot be a template (`line 3: syntax error: ...`), or null when it compiles: what
 * refuses a template when it is set.
 */
export function templateError(source: string | null | undefined): string | null {
  if (!source || !needsEngine(source)) return null;
  try {
    compileJinja(source, { html: false });
    return null;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}

/**
 * `convert` (html to text) applied with every Jinja2 construct kept as written: html-to-text upper-cases
 * headings, which would turn `{{ name|upper }}` into `{{ NAME|UPPER }}`. Each `{{ }}`, `{% %}` and `{# #}` is
 * swapped for a private-use placeholder first and put back after; should the conversion drop or repeat one,
 * the plain conversion is the answer.
 */
export async function convertKeepingTemplate(html: string, convert: (html: string) => string | Promise<string>): Promise<string> {
  if (!/\{[{%#]/.test(html)) return await convert(html);
  const spans: string[] = [];
  const masked = html.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g, (s) => `\uE000${spans.push(s) - 1}\uE001`);
  const text = await convert(masked);
  const seen: number[] = [];
  const out = text.replace(/\uE000(\d+)\uE001/g, (_m, i: string) => {
    seen.push(Number(i));
    return spans[Number(i)] ?? '';
  });
  return seen.length === spans.length && seen.every((n, i) => n === i) ? out : await convert(html);
}

/** A recipient's fields as the lookup map templates read (own keys only; scalar values as text, no null, array or struct). */
export function fieldMap(record: Readonly<Record<string, unknown>>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(record)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue;
    const s = String(v);
    m.set(k, s);
    const lower = k.toLowerCase();
    if (!m.has(lower)) m.set(lower, s);
  }
  return m;
}
