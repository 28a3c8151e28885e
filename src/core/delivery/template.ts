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
 */
import { compileJinja, TemplateError } from './jinja.js';

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

type Part = string | { field: string; path: string[] | null };

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

/** Throws TemplateError (with the line) when the source is Jinja2 that cannot compile. */
export function compileTemplate(source: string, opts: TemplateOptions = {}): CompiledTemplate {
  const html = opts.html ?? false;
  if (needsEngine(source)) {
    const t = compileJinja(source, { html });
    return { fieldNames: [], personalized: true, render: (values) => t.render(TemplateValues.of(values).data) };
  }
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(FIELD)) {
    if (m.index > last) parts.push(source.slice(last, m.index));
    const field = m[1]!;
    parts.push({ field, path: field.includes('.') ? field.split('.') : null });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  const fieldNames = parts.filter((p) => typeof p !== 'string').map((p) => p.field);
  return {
    fieldNames,
    personalized: fieldNames.length > 0,
    render(values) {
      const v = values instanceof TemplateValues ? values : null;
      const fields = v ? v.fields : (values as Fields);
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else {
          const s = fields.get(p.field) ?? fields.get(p.field.toLowerCase()) ?? (p.path && v ? walk(v.data, p.path) : undefined) ?? '';
          out += html ? escapeHtml(s) : s;
        }
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
