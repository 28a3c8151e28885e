/**
 * The admin pages' one way to write HTML: a tagged template that escapes every interpolated value (text and
 * attribute alike: & < > " ' all escaped), unless the value is itself the result of `html` (a fragment
 * already escaped) — so forgetting to escape is impossible, and printing raw text needs no call at all.
 * Arrays are joined; null, undefined and false print nothing. Attribute values must be quoted in the template.
 *
 * Why our own (25 lines) and not a template engine: the pages are small and typed; a tagged template is checked
 * by the compiler, needs no second syntax, and no engine we ship (minijinja, for messages) escapes by default
 * in a way the type checker sees.
 */
import { escapeHtml } from '../../core/delivery/template.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | bigint | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}
