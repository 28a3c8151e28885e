/**
 * `node --import tsx bench/xmlrpc-codec.ts`: which XML parser the XML-RPC codec should run on.
 *
 * Input: an `add_recipients` methodCall of 1,000 recipients as Python's xmlrpc.client lays it out (one tag per
 * line), half the members as `<value><string>..</string></value>`, half as bare `<value>text</value>`, with
 * non-ASCII text and `&amp;`. Every candidate runs the same event -> value builder below, plus the checks
 * that parser needs to be safe (declarations refused, only the XML entities, XML 1.0 characters, well-formed
 * input); each result must deep-equal the reference before its time counts. Then the real codec
 * (src/rpc/xmlrpc.ts, every check on) and the old one (xmlrpc's Deserializer on sax) as baseline.
 * Encoding: the 1,000-entry add_recipients answer, new encoder vs the xmlrpc Serializer.
 * Each figure: median of BENCH_RUNS (100) runs after BENCH_WARMUP (30), in a process of its own, BENCH_ROUNDS
 * (3) times. Measurements only, never part of `npm test`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Parser, QuoteType, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import {
  decodeMethodCall,
  decodeReferences,
  decodeMethodResponse,
  encodeResponse,
  parseIso8601Utc,
  type MethodCall,
  type XmlRpcStruct,
  type XmlRpcValue,
} from '../src/rpc/xmlrpc.js';

const RECIPIENTS = 1000;
const WARMUP = Number(process.env.BENCH_WARMUP ?? 30);
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

// ------------------------------------------------------------------------------------------- the input

const FIRST = ['Jöhn', 'Zoë', 'Ana', 'Łukasz', 'Søren', 'Ιωάννης', 'Ярослав', '太郎'];
const LAST = ['Müller', 'Smith', "O'Brien", 'Nuñez', 'Ødegård', 'Παπαδόπουλος', 'Иванов', '山田'];

function recipients(n: number): Record<string, string>[] {
  return Array.from({ length: n }, (_, i) => {
    const r: Record<string, string> = {
      email: `user.${i}@example.org`,
      firstname: FIRST[i % FIRST.length]!,
      lastname: LAST[(i * 3) % LAST.length]!,
      company: i % 5 ? `Company ${i} GmbH` : 'Smith & Sons <Ltd>',
      city: i % 2 ? 'Saint-Étienne' : 'Zürich',
    };
    if (i % 3 === 0) r.customer_ref = `C-${String(i).padStart(8, '0')}`;
    return r;
  });
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** What Python's xmlrpc.client writes (typed), or what lighter clients write (bare values). */
function callBody(mailingId: number, list: Record<string, string>[]): string {
  let out = "<?xml version='1.0'?>\n<methodCall>\n<methodName>add_recipients</methodName>\n<params>\n";
  out += `<param>\n<value><int>${mailingId}</int></value>\n</param>\n<param>\n<value><array><data>\n`;
  list.forEach((r, i) => {
    out += '<value><struct>\n';
    for (const [k, v] of Object.entries(r)) {
      const value = i % 2 ? `<value><string>${escapeXml(v)}</string></value>` : `<value>${escapeXml(v)}</value>`;
      out += `<member>\n<name>${k}</name>\n${value}\n</member>\n`;
    }
    out += '</struct></value>\n';
  });
  return `${out}</data></array></value>\n</param>\n</params>\n</methodCall>\n`;
}

const LIST = recipients(RECIPIENTS);
const REFERENCE: MethodCall = { methodName: 'add_recipients', params: [42, LIST] };
const BODY = Buffer.from(callBody(42, LIST));
const ANSWER = Array.from({ length: RECIPIENTS }, (_, i) => ({
  email: `user.${i}@example.org`,
  id: 1_000_000 + i,
  tracking_id: `t${(i * 2654435761).toString(36)}`,
}));

// ------------------------------------------------------------------- checks every candidate must apply

class Refused extends Error {}
const refuse = (why: string): never => {
  throw new Refused(why);
};
const DECLARATION = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
// Input comes from strict UTF-8 decoding: no lone surrogate can be in it.
// eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids, control characters among them
const NOT_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

function refuseDeclarations(text: string): void {
  if (DECLARATION.test(text)) refuse('declaration');
}

// For parsers that leave references undecoded, the codec's own resolver (five entities, character references);
// sax resolves them itself from this table (no prototype: `&constructor;` must not resolve).
const XML_ENTITIES: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" });

// ------------------------------------------- the shared builder: XML events -> XML-RPC values (lite)

// The value work every candidate shares, written like the codec's (tag ids, no per-member defineProperty
// unless needed); the codec adds the full grammar (child order and counts) on top.
const TAG_NAMES = [
  'methodCall',
  'methodName',
  'params',
  'param',
  'value',
  'i4',
  'int',
  'i8',
  'boolean',
  'string',
  'double',
  'dateTime.iso8601',
  'base64',
  'struct',
  'member',
  'name',
  'array',
  'data',
  'nil',
] as const;
type TagName = (typeof TAG_NAMES)[number];
const TAG_IDS = new Map<string, number>(TAG_NAMES.map((n, i) => [n, i]));
const id = (name: TagName) => TAG_IDS.get(name)!;
const [VALUE, STRUCT, ARRAY, MEMBER, PARAM, DATA] = (['value', 'struct', 'array', 'member', 'param', 'data'] as const).map(id);
const LEAF = new Set((['methodName', 'name', 'i4', 'int', 'i8', 'boolean', 'string', 'double', 'dateTime.iso8601', 'base64', 'nil'] as const).map(id));

class Builder {
  private readonly tags: number[] = [];
  private readonly typed: boolean[] = [];
  private readonly containers: (XmlRpcValue[] | XmlRpcStruct)[] = [];
  private readonly names: string[] = [];
  private text = '';
  private last: XmlRpcValue = null;
  methodName = '';
  readonly params: XmlRpcValue[] = [];

  open(name: string): void {
    const tag = TAG_IDS.get(name) ?? refuse(`tag ${name}`);
    if (this.tags[this.tags.length - 1] === VALUE) {
      if (this.text.trim()) refuse('text and a typed child');
      this.typed[this.typed.length - 1] = true;
    }
    this.tags.push(tag);
    this.typed.push(false);
    this.text = '';
    if (tag === STRUCT || tag === ARRAY) {
      if (this.containers.length >= 64) refuse('depth');
      this.containers.push(tag === STRUCT ? {} : []);
    }
  }

  chars(t: string): void {
    const top = this.tags[this.tags.length - 1]!;
    if (LEAF.has(top) || (top === VALUE && !this.typed[this.typed.length - 1])) this.text += t;
    else if (t.trim()) refuse('text here');
  }

  close(name: string): void {
    const tag = this.tags.pop();
    if (tag === undefined || TAG_NAMES[tag] !== name) refuse(`close ${name}`);
    const typed = this.typed.pop();
    const text = this.text;
    this.text = '';
    switch (name as TagName) {
      case 'value':
        return this.deliver(typed ? this.last : text);
      case 'struct':
      case 'array':
        this.last = this.containers.pop()!;
        return;
      case 'name':
        this.names.push(text);
        return;
      case 'methodName':
        this.methodName = text;
        return;
      case 'string':
        this.last = text;
        return;
      case 'int':
      case 'i4':
      case 'i8': {
        const t = text.trim();
        if (!/^[+-]?\d{1,20}$/.test(t) || !Number.isSafeInteger(Number(t))) refuse('int');
        this.last = Number(t);
        return;
      }
      case 'double':
        this.last = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text.trim()) ? Number(text) : refuse('double');
        return;
      case 'boolean':
        this.last = text === '1' ? true : text === '0' ? false : refuse('boolean');
        return;
      case 'nil':
        this.last = null;
        return;
      case 'base64':
        this.last = Buffer.from(text, 'base64');
        return;
      case 'dateTime.iso8601':
        this.last = parseIso8601Utc(text);
        return;
    }
  }

  private deliver(v: XmlRpcValue): void {
    const parent = this.tags[this.tags.length - 1];
    if (parent === PARAM) this.params.push(v);
    else if (parent === DATA) (this.containers[this.containers.length - 1] as XmlRpcValue[]).push(v);
    else if (parent === MEMBER) {
      const struct = this.containers[this.containers.length - 1] as XmlRpcStruct;
      const name = this.names.pop() ?? refuse('member without name');
      if (name in struct) Object.defineProperty(struct, name, { value: v, enumerable: true, writable: true, configurable: true });
      else struct[name] = v;
    }
  }

  result(): MethodCall {
    if (this.tags.length) refuse('incomplete');
    return { methodName: this.methodName, params: this.params };
  }
}
// ---------------------------------------------------------------------------------------- candidates

// sax, saxes and fast-xml-parser are devDependencies kept for this comparison only: loaded by a name in a
// variable (neither this file nor the type check needs them), each candidate skipped once it is dropped.
interface SaxParser {
  ENTITIES: Record<string, string>;
  onerror: (e: Error) => void;
  ondoctype: () => void;
  onopentag: (node: { name: string }) => void;
  onclosetag: (name: string) => void;
  ontext: (text: string) => void;
  oncdata: (text: string) => void;
  write(text: string): SaxParser;
  close(): SaxParser;
}
interface SaxesParserLike {
  on(event: 'opentag' | 'closetag', handler: (tag: { name: string }) => void): void;
  on(event: 'text' | 'cdata' | 'doctype', handler: (text: string) => void): void;
  on(event: 'error', handler: (e: Error) => void): void;
  write(text: string): SaxesParserLike;
  close(): SaxesParserLike;
}
interface Parsers {
  sax?: { parser(strict: boolean, options: Record<string, unknown>): SaxParser };
  saxes?: { SaxesParser: new (options: Record<string, unknown>) => SaxesParserLike };
  fxp?: {
    XMLParser: new (options: Record<string, unknown>) => { parse(text: string): unknown };
    XMLValidator: { validate(text: string): unknown };
  };
}

async function optionalModule<T>(name: string): Promise<T | undefined> {
  try {
    const m = (await import(name)) as { default?: unknown };
    // CommonJS modules arrive as `default`.
    return (name === 'fast-xml-parser' ? m : (m.default ?? m)) as T;
  } catch {
    return undefined;
  }
}

const parsers: Parsers = {
  sax: await optionalModule('sax'),
  saxes: await optionalModule('saxes'),
  fxp: await optionalModule('fast-xml-parser'),
};

function withSax(text: string): MethodCall {
  refuseDeclarations(text);
  const b = new Builder();
  const p = parsers.sax!.parser(true, { trim: false, normalize: false, position: false, strictEntities: true });
  p.ENTITIES = XML_ENTITIES;
  p.onerror = (e) => refuse(e.message);
  p.ondoctype = () => refuse('doctype');
  p.onopentag = (node) => b.open(node.name);
  p.onclosetag = (name) => b.close(name);
  // sax lets any character through.
  p.ontext = p.oncdata = (t) => {
    if (NOT_XML_CHAR.test(t)) refuse('char');
    b.chars(t);
  };
  p.write(text).close();
  return b.result();
}

function withSaxes(text: string): MethodCall {
  refuseDeclarations(text);
  const b = new Builder();
  // saxes checks characters, references (its entity table has no prototype) and well-formedness itself.
  const p = new parsers.saxes!.SaxesParser({ position: false });
  p.on('error', (e) => refuse(e.message));
  p.on('doctype', () => refuse('doctype'));
  p.on('opentag', (tag) => b.open(tag.name));
  p.on('closetag', (tag) => b.close(tag.name));
  p.on('text', (t) => b.chars(t));
  p.on('cdata', (t) => b.chars(t));
  p.write(text).close();
  return b.result();
}

/** htmlparser2's Tokenizer leaves well-formedness to us: the checks the real codec makes, in short. */
function withHtmlparser2Tokenizer(text: string): MethodCall {
  refuseDeclarations(text);
  if (NOT_XML_CHAR.test(text)) refuse('char');
  const b = new Builder();
  let pending = '';
  const cbs: TokenizerCallbacks = {
    onopentagname: (s, e) => {
      pending = text.slice(s, e);
      b.open(pending);
    },
    onopentagend: () => undefined,
    onselfclosingtag: () => b.close(pending),
    onclosetag: (s, e) => {
      if (text.charCodeAt(e) !== 0x3e && !/^\s*>/.test(text.slice(e, e + 40))) refuse('close tag');
      b.close(text.slice(s, e));
    },
    ontext: (s, e) => {
      const raw = text.slice(s, e);
      if (raw.indexOf('<') !== -1) refuse('<');
      b.chars(decodeReferences(raw));
    },
    oncdata: (s, e, off) => (off === 2 ? b.chars(text.slice(s, e - off)) : refuse('cdata')),
    oncomment: (_s, _e, off) => (off === 2 ? undefined : refuse('comment')),
    ondeclaration: () => refuse('declaration'),
    onprocessinginstruction: () => undefined,
    onattribname: () => undefined,
    onattribdata: () => undefined,
    onattribend: (q) => (q === QuoteType.Double || q === QuoteType.Single ? undefined : refuse('attribute')),
    onattribentity: () => undefined,
    ontextentity: () => undefined,
    onend: () => undefined,
  };
  const t = new Tokenizer({ xmlMode: true, decodeEntities: false }, cbs);
  t.write(text);
  t.end();
  if (!text.trimEnd().endsWith('>')) refuse('truncated');
  return b.result();
}

function withHtmlparser2Parser(text: string): MethodCall {
  refuseDeclarations(text);
  if (NOT_XML_CHAR.test(text)) refuse('char');
  const b = new Builder();
  let inCdata = false;
  const p = new Parser(
    {
      onopentag: (name) => b.open(name),
      onclosetag: (name, implied) => (implied ? refuse('implied close') : b.close(name)),
      ontext: (t) => {
        if (inCdata) return b.chars(t);
        if (t.indexOf('<') !== -1) refuse('<');
        b.chars(decodeReferences(t));
      },
      oncdatastart: () => (inCdata = true),
      oncdataend: () => (inCdata = false),
      oncomment: () => undefined,
      onprocessinginstruction: (name) => (name.startsWith('!') ? refuse('declaration') : undefined),
    },
    { xmlMode: true, decodeEntities: false },
  );
  p.write(text);
  p.end();
  if (!text.trimEnd().endsWith('>')) refuse('truncated');
  return b.result();
}

type OrderedNode = Record<string, unknown> & { '#text'?: string };

/** fast-xml-parser builds a tree and does not check well-formedness: its validator runs first. */
function withFastXmlParser(text: string): MethodCall {
  refuseDeclarations(text);
  if (NOT_XML_CHAR.test(text)) refuse('char');
  if (parsers.fxp!.XMLValidator.validate(text) !== true) refuse('not well-formed');
  const tree = new parsers.fxp!.XMLParser({
    preserveOrder: true,
    processEntities: false,
    htmlEntities: false,
    trimValues: false,
    parseTagValue: false,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
  }).parse(text) as OrderedNode[];
  const b = new Builder();
  const walk = (nodes: OrderedNode[]) => {
    for (const node of nodes) {
      if (node['#text'] !== undefined) {
        b.chars(decodeReferences(String(node['#text'])));
        continue;
      }
      const name = Object.keys(node).find((k) => k !== ':@')!;
      b.open(name);
      walk(node[name] as OrderedNode[]);
      b.close(name);
    }
  };
  walk(tree);
  return b.result();
}

// ----------------------------------------------------------------------------------------- measuring

interface Figure {
  name: string;
  run: () => unknown;
  /** Throws unless run() gives the reference value. */
  check: () => void;
}

interface OldCodec {
  decodeMethodCall(body: Buffer): MethodCall;
  encodeResponse(value: unknown): string;
}

/** The old codec and the xmlrpc package may be gone by the time this runs again: then no baseline. */
async function loadOld(quiet: boolean): Promise<{ codec?: OldCodec; serialize?: (value: unknown) => string }> {
  const out: { codec?: OldCodec; serialize?: (value: unknown) => string } = {};
  try {
    // In a variable: the type check must not depend on a file that is due to go. Once it is gone, run with
    // BENCH_OLD_CODEC=<its copy from git> NODE_PATH=node_modules for the baseline.
    const specifier: string = process.env.BENCH_OLD_CODEC
      ? pathToFileURL(path.resolve(process.env.BENCH_OLD_CODEC)).href
      : '../src/adapters/cloudmailing/codec.js';
    out.codec = (await import(specifier)) as OldCodec;
  } catch (e) {
    if (!quiet) console.log(`(no old codec, no baseline: ${String(e).split('\n')[0]})`);
  }
  try {
    const Serializer = createRequire(import.meta.url)('xmlrpc/lib/serializer.js') as { serializeMethodResponse(v: unknown): string };
    out.serialize = (v) => Serializer.serializeMethodResponse(v);
  } catch {
    if (!quiet) console.log('(no xmlrpc package, no Serializer baseline)');
  }
  return out;
}

async function allFigures(quiet: boolean): Promise<Figure[]> {
  const old = await loadOld(quiet);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const decoding = (name: string, run: () => MethodCall): Figure => ({ name, run, check: () => assert.deepEqual(run(), REFERENCE, name) });
  const encoding = (name: string, run: () => string): Figure => ({
    name,
    run,
    check: () => assert.deepEqual(decodeMethodResponse(run()), { value: ANSWER }, name),
  });
  const out: Figure[] = [];
  if (old.codec) out.push(decoding(OLD_DECODE, () => old.codec!.decodeMethodCall(BODY)));
  const candidate = (name: string, present: unknown, decode: (text: string) => MethodCall) => {
    // Text decoding is part of every figure, as in the codec.
    if (present) out.push(decoding(name, () => decode(utf8.decode(BODY))));
    else if (!quiet) console.log(`(${name.slice(8)}: not installed, skipped)`);
  };
  candidate('decode  sax 1.6.1 (strict)', parsers.sax, withSax);
  candidate('decode  saxes 6', parsers.saxes, withSaxes);
  candidate('decode  htmlparser2 Parser (xmlMode)', true, withHtmlparser2Parser);
  candidate('decode  htmlparser2 Tokenizer (xmlMode)', true, withHtmlparser2Tokenizer);
  candidate('decode  fast-xml-parser 5 (validator + parser)', parsers.fxp, withFastXmlParser);
  out.push(
    decoding('decode  src/rpc/xmlrpc.ts (all checks)', () => decodeMethodCall(BODY)),
    encoding(NEW_ENCODE, () => encodeResponse(ANSWER)),
  );
  if (old.serialize) out.push(encoding('encode  xmlrpc Serializer', () => old.serialize!(ANSWER)));
  if (old.codec) out.push(encoding('encode  old codec (UTC/nil fix-ups + Serializer)', () => old.codec!.encodeResponse(ANSWER)));
  return out;
}

const OLD_DECODE = 'decode  old codec (xmlrpc Deserializer on sax 1.2)';
const NEW_ENCODE = 'encode  src/rpc/xmlrpc.ts';

/** In a child process: one figure, warmed up, then timed; its median on stdout. */
async function measureOne(index: number): Promise<void> {
  const f = (await allFigures(true))[index]!;
  for (let i = 0; i < WARMUP; i++) f.run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    f.run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ median: times[times.length >> 1] }));
}

/**
 * Each figure in a process of its own (no figure pays for another's garbage or JIT state), ROUNDS times in
 * alternating order (load from other processes drifts): the median of the rounds' medians, and their spread.
 */
function measureAll(figures: Figure[]): Map<string, number[]> {
  const rounds = new Map<string, number[]>(figures.map((f) => [f.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = figures.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) {
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
        env: { ...process.env, BENCH_FIGURE: String(i) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (child.status !== 0) throw new Error(`${figures[i]!.name}: exit ${child.status}`);
      rounds.get(figures[i]!.name)!.push((JSON.parse(child.stdout.trim().split('\n').pop()!) as { median: number }).median);
    }
  }
  return rounds;
}

const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

if (process.env.BENCH_FIGURE !== undefined) {
  await measureOne(Number(process.env.BENCH_FIGURE));
} else {
  const figures = await allFigures(false);
  for (const f of figures) f.check();
  console.log(`add_recipients: ${RECIPIENTS} recipients, ${BODY.length} bytes; answer ${encodeResponse(ANSWER).length} bytes`);
  console.log(`each figure: median of ${RUNS} runs after ${WARMUP}, in its own process; shown: median of ${ROUNDS} rounds [spread]`);
  const rounds = measureAll(figures);
  const oldDecode = rounds.has(OLD_DECODE) ? middle(rounds.get(OLD_DECODE)!) : undefined;
  const newEncode = middle(rounds.get(NEW_ENCODE)!);
  for (const [name, times] of rounds) {
    const ms = middle(times);
    const spread = `[${Math.min(...times).toFixed(2)}-${Math.max(...times).toFixed(2)}]`;
    const vs = name.startsWith('decode')
      ? oldDecode && `${(oldDecode / ms).toFixed(1)}x the old codec's speed`
      : `${(ms / newEncode).toFixed(1)}x the new encoder's time`;
    console.log(`${name.padEnd(50)} ${ms.toFixed(2).padStart(7)} ms ${spread.padEnd(15)} ${vs ?? ''}`);
  }
}
