/**
 * Personalization: `{{ field }}` in subject, html and text.
 *
 * Deliberately not a general template engine: the only construct is a field reference, so a recipient's
 * data can never reach code (no helpers, no prototype walk: `{{ constructor }}` is just an absent field).
 * A template is compiled once per mailing into literal and field parts; rendering is concatenation.
 * Field names are matched as given, then case-insensitively. A missing field renders empty.
 */
export type Fields = ReadonlyMap<string, string>;
type Part = string | { field: string };

export interface CompiledTemplate {
  readonly fieldNames: readonly string[];
  render(fields: Fields, escape?: (s: string) => string): string;
}

const FIELD = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(FIELD)) {
    if (m.index > last) parts.push(source.slice(last, m.index));
    parts.push({ field: m[1]! });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  const fieldNames = parts.filter((p): p is { field: string } => typeof p !== 'string').map((p) => p.field);
  return {
    fieldNames,
    render(fields, escape) {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else {
          const v = fields.get(p.field) ?? fields.get(p.field.toLowerCase()) ?? '';
          out += escape ? escape(v) : v;
        }
      }
      return out;
    },
  };
}

/** A recipient's fields as the lookup map templates read (own keys only; scalar values as text, no null, array or struct). */
export function fieldMap(record: Record<string, unknown>): Map<string, string> {
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

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}
