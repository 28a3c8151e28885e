/**
 * The Jinja2 engine: MiniJinja (a Rust implementation of Jinja2 by Jinja2's own author) compiled to
 * WebAssembly (`minijinja-js`), chosen by measurement and by attack (see bench/templates.ts and the README's
 * "Templates"). A template is compiled once (per mailing and part) and rendered per recipient with the
 * recipient's values as plain JSON data.
 *
 * Sandbox: a template runs inside a WebAssembly instance. It reaches the values it is given (copied in as
 * data) and the engine's own filters and globals; no JavaScript object, prototype, constructor or `process`
 * exists in there, and the filters added here (`format`, `e`/`escape` where nothing is escaped automatically,
 * and `mailgate_link` for tracked links) receive copies and return strings.
 *
 * Limits: each ends that render with a TemplateError (one recipient's message), never the process:
 * - fuel: at most FUEL instructions per render (a loop of a billion, nested loops);
 * - recursion: MiniJinja's own limit (a macro calling itself); `range()`: at most 100,000 items (MiniJinja's);
 * - memory: the instance's memory is given a maximum (MEMORY_PAGES) when the module is loaded (its memory
 *   section says none), so a template that doubles a string traps at that size instead of taking the
 *   machine's memory. A trap leaves the instance unusable (minijinja-js warns of it), so the instance is
 *   dropped and a fresh one made; templates are loaded into it again on their next render;
 * - output: a rendered text over MAX_OUTPUT characters is refused.
 *
 * Loaded on first use (a synchronous 1 MB WebAssembly compile, about 10 ms): templates that are only
 * `{{ field }}` never need it (see template.ts), nor do commands that never compile a template.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import util from 'node:util';
import vm from 'node:vm';

/** Instructions one render may run (about 0.1 s of CPU): far beyond any message, far below a runaway. */
export const FUEL = 1_000_000;
/** WebAssembly pages of 64 KiB the instance may grow to (256 MiB). */
const MEMORY_PAGES = 4096;
/** Characters one rendered text may have. */
export const MAX_OUTPUT = 10 * 1024 * 1024;
/** Templates kept compiled in the instance; the least recently used beyond are dropped (and loaded again when used). */
const MAX_LOADED = 512;

/** A template that cannot compile (`syntax`), a render that failed (`render`), or one a limit stopped (`limit`). */
export class TemplateError extends Error {
  constructor(
    readonly kind: 'syntax' | 'render' | 'limit',
    message: string,
    /** 1-based line of the template, when the engine names one. */
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The part of minijinja-js's typings we use. */
interface MiniJinjaEnvironment {
  debug: boolean;
  keepTrailingNewline: boolean;
  fuel: number | null | undefined;
  addTemplate(name: string, source: string): void;
  removeTemplate(name: string): void;
  renderTemplate(name: string, ctx: unknown): string;
  addFilter(name: string, func: (...args: unknown[]) => unknown): void;
  enablePyCompat(): void;
}
interface MiniJinjaModule {
  Environment: new () => MiniJinjaEnvironment;
}

export interface JinjaTemplate {
  /** `link`: what a `{% filter mailgate_link(n) %}` block's rendered href becomes (a tracked link; template.ts). */
  render(data: Record<string, unknown>, link?: (n: number, rendered: string) => string): string;
}

// ------------------------------------------------------------------------------------------------ loading

/**
 * The module's bytes with a maximum on its memory (the memory section, id 5, rewritten: one memory, flags 1,
 * its minimum, `pages`). Throws when the section is not the one memory minijinja-js is known to declare.
 */
export function withMemoryMaximum(wasm: Buffer, pages: number): Buffer {
  const uleb = (n: number) => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const read = (p: number): [number, number] => {
    let value = 0;
    let shift = 0;
    let b: number;
    do {
      b = wasm[p++]!;
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return [value, p];
  };
  let p = 8; // magic and version
  while (p < wasm.length) {
    const start = p;
    const id = wasm[p++]!;
    const [size, body] = read(p);
    if (id === 5) {
      const [count, q] = read(body);
      const flags = wasm[q]!;
      const [min] = read(q + 1);
      if (count !== 1 || flags !== 0) throw new Error('minijinja-js: unexpected memory section');
      const content = [1, 1, ...uleb(min), ...uleb(pages)];
      return Buffer.concat([wasm.subarray(0, start), Buffer.from([5, ...uleb(content.length), ...content]), wasm.subarray(body + size)]);
    }
    p = body + size;
  }
  throw new Error('minijinja-js: no memory section');
}

let glue: { file: string; run: (...args: unknown[]) => void; wasm: Buffer } | undefined;

/**
 * A fresh instance of minijinja-js. Its Node glue (wasm-bindgen's) keeps the instance in module scope, so it
 * is run here as Node runs a CommonJS file, each time anew, with its `fs.readFileSync` answering the module
 * with the memory maximum.
 */
function newInstance(): MiniJinjaModule {
  if (!glue) {
    const file = createRequire(import.meta.url).resolve('minijinja-js');
    const source = readFileSync(file, 'utf8');
    const run = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file }) as (
      ...args: unknown[]
    ) => void;
    glue = { file, run, wasm: withMemoryMaximum(readFileSync(path.join(path.dirname(file), 'minijinja_js_bg.wasm')), MEMORY_PAGES) };
  }
  const { file, run, wasm } = glue;
  const fs = { readFileSync: () => wasm };
  const shim = (id: string) => {
    if (id === 'util') return util;
    if (id === 'path') return path;
    if (id === 'fs') return fs;
    throw new Error(`minijinja-js: unexpected require(${id})`);
  };
  const module = { exports: {} as MiniJinjaModule };
  run(module.exports, shim, module, file, path.dirname(file));
  return module.exports;
}

// ------------------------------------------------------------------------------------------------ filters

/** A value as Jinja2 prints it, for the filters below (they receive copies of the engine's values). */
function text(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v instanceof Map ? Object.fromEntries(v) : v) ?? '';
}

/** Python's `%` formatting, as Jinja2's `format` filter applies it: `%s %r %d %i %f %F %e %E %x %X %o %c %%`, with flags, width and precision. */
export function percentFormat(format: string, args: unknown[]): string {
  let i = 0;
  const next = () => {
    if (i >= args.length) throw new Error('not enough arguments for format string');
    return args[i++];
  };
  const out = format.replace(
    /%([-+ 0#]*)(\d+|\*)?(?:\.(\d+))?([srdifFeExXoc%])/g,
    (_all, flags: string, width: string | undefined, precision: string | undefined, conv: string) => {
      if (conv === '%') return '%';
      const w = width === '*' ? Number(next()) : width ? Number(width) : 0;
      const v = next();
      const p = precision === undefined ? undefined : Number(precision);
      const num = (): number => {
        if (typeof v === 'number') return v;
        if (typeof v === 'boolean' || typeof v === 'bigint') return Number(v);
        throw new Error(`%${conv} format: a real number is required, not ${v === null ? 'None' : typeof v}`);
      };
      let s: string;
      switch (conv) {
        case 's':
        case 'r':
          s = conv === 'r' && typeof v === 'string' ? `'${v}'` : text(v);
          if (p !== undefined) s = s.slice(0, p);
          break;
        case 'd':
        case 'i':
          s = String(Math.trunc(num()));
          break;
        case 'f':
        case 'F':
          s = num().toFixed(p ?? 6);
          break;
        case 'e':
        case 'E':
          // Python writes at least two exponent digits (1.5e+01).
          s = num()
            .toExponential(p ?? 6)
            .replace(/e([+-])(\d)$/, 'e$10$2');
          if (conv === 'E') s = s.toUpperCase();
          break;
        case 'x':
        case 'X':
        case 'o': {
          const n = Math.trunc(num());
          s = (flags.includes('#') ? (conv === 'o' ? '0o' : '0x') : '') + Math.abs(n).toString(conv === 'o' ? 8 : 16);
          if (conv === 'X') s = s.toUpperCase();
          if (n < 0) s = '-' + s;
          break;
        }
        default:
          s = typeof v === 'number' ? String.fromCodePoint(v) : text(v);
      }
      const numeric = /[difFeExXo]/.test(conv);
      if (numeric && s[0] !== '-') {
        if (flags.includes('+')) s = '+' + s;
        else if (flags.includes(' ')) s = ' ' + s;
      }
      if (s.length < w) {
        if (flags.includes('-')) s = s.padEnd(w);
        else if (flags.includes('0') && numeric) s = /^[-+ ]/.test(s) ? s[0]! + s.slice(1).padStart(w - 1, '0') : s.padStart(w, '0');
        else s = s.padStart(w);
      }
      return s;
    },
  );
  if (i < args.length) throw new Error('not all arguments converted during string formatting');
  return out;
}

// ------------------------------------------------------------------------------------------------ the engine

const MARKUPSAFE: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
/** Jinja2's `|e` (markupsafe: `& < > " '`), byte for byte. */
export const markupsafeEscape = (v: unknown) => text(v).replace(/[&<>"']/g, (c) => MARKUPSAFE[c]!);

/**
 * The tracked-link answer of the render under way: renders are synchronous, so one module-level slot is set
 * before a render and cleared after it.
 */
let currentLink: ((n: number, rendered: string) => string) | undefined;

interface Instance {
  /**
   * `plain`: nothing escaped unless asked, `|e` as Jinja2's markupsafe writes it; `html`: every `{{ }}`
   * HTML-escaped by the engine (autoescape; its own `|e`, which a JavaScript filter could not mark safe).
   */
  envs: { plain: MiniJinjaEnvironment; html: MiniJinjaEnvironment };
  /** Names loaded, least recently used first. */
  loaded: Map<string, MiniJinjaEnvironment>;
}
let instance: Instance | undefined;

function engine(): Instance {
  if (instance) return instance;
  const { Environment } = newInstance();
  const make = (plain: boolean) => {
    const env = new Environment();
    env.debug = false;
    // A part's last line break stays: it may be all that separates the text from the MIME boundary after it
    // (the original's email package ends every customized part with one too).
    env.keepTrailingNewline = true;
    env.enablePyCompat();
    env.fuel = FUEL;
    env.addFilter('format', (value, ...args) => percentFormat(text(value), args));
    if (plain) for (const name of ['e', 'escape']) env.addFilter(name, markupsafeEscape);
    // A tracked link (template.ts wraps each href in it): the render's own answer, the href itself without one.
    // A template calling it itself only makes one more tracked link of its own message (its author writes the
    // links anyway); a recipient's value is data and calls nothing.
    env.addFilter('mailgate_link', (value, n) => (currentLink ? currentLink(Number(n), text(value)) : text(value)));
    return env;
  };
  instance = { envs: { plain: make(true), html: make(false) }, loaded: new Map() };
  return instance;
}

/** `syntax error: ... (in t3f….html:3)` → `line 3: syntax error: ...` (the internal name never shown). */
function errorOf(e: unknown, kind: 'syntax' | 'render'): TemplateError {
  // WebAssembly's RuntimeError (a trap: the memory maximum reached, or a panic); Node's typings do not declare it.
  if (e instanceof Error && e.constructor.name === 'RuntimeError') {
    // The instance is unusable after a trap: drop it; the next render makes a fresh one.
    instance = undefined;
    return new TemplateError('limit', 'the template stopped: it needed more memory than a template may use');
  }
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
  const m = /^(.*?)\s*\(in [^():]+:(\d+)\)$/.exec(first);
  const message = (m ? m[1]! : first).replace(/\s*\(in [^()]*\)/g, '');
  const line = m ? Number(m[2]) : null;
  const limit = /ran out of fuel|recursion limit|too many elements/.test(message);
  return new TemplateError(limit ? 'limit' : kind, line ? `line ${line}: ${message}` : message, line);
}

/** The template in the instance (compiled there), most recently used; the least recently used beyond MAX_LOADED dropped. */
function load(inst: Instance, name: string, source: string, html: boolean): MiniJinjaEnvironment {
  const { loaded } = inst;
  const env = loaded.get(name);
  if (env) {
    loaded.delete(name);
    loaded.set(name, env);
    return env;
  }
  const target = html ? inst.envs.html : inst.envs.plain;
  target.addTemplate(name, source);
  loaded.set(name, target);
  if (loaded.size > MAX_LOADED) {
    const [oldest, from] = loaded.entries().next().value!;
    loaded.delete(oldest);
    from.removeTemplate(oldest);
  }
  return target;
}

/**
 * A Jinja2 template compiled now (a syntax error throws TemplateError with its line); `html`: every
 * `{{ expression }}` is HTML-escaped (autoescape), else only what `|e` asks (as Jinja2's `Template()` does).
 */
export function compileJinja(source: string, opts: { html: boolean }): JinjaTemplate {
  // The same source is one template, however often it is compiled (each send job compiles its mailing).
  const name = `t${createHash('sha1').update(source).digest('hex')}.${opts.html ? 'html' : 'txt'}`;
  const ensure = (): MiniJinjaEnvironment => {
    try {
      return load(engine(), name, source, opts.html);
    } catch (e) {
      throw errorOf(e, 'syntax');
    }
  };
  ensure();
  return {
    render(data, link) {
      const env = ensure();
      let out: string;
      currentLink = link;
      try {
        out = env.renderTemplate(name, data);
      } catch (e) {
        throw errorOf(e, 'render');
      } finally {
        currentLink = undefined;
      }
      if (out.length > MAX_OUTPUT) throw new TemplateError('limit', `the rendered text is over ${MAX_OUTPUT} characters`);
      return out;
    },
  };
}
