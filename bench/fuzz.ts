/**
 * Property-based fuzz (fast-check) of every decoder: what a client can put in front of Mailgate.
 *
 * Each property: the decoder returns, or throws its own bad-input error and nothing else, and never hangs
 * (every HTTP answer arrives; a template's render is bounded by its fuel); encode → decode round-trips where
 * it should (XML-RPC). Over HTTP, a call is answered in the dialect's shape and never as an internal error.
 *
 * `npm test` runs these with a small fixed budget and a fixed seed (test/decoders/fuzz.test.ts); the bench
 * (`npm run bench -- fuzz`) with BENCH_FUZZ_RUNS runs per property (default 20,000 for the decoders run in
 * process, a tenth of that over HTTP) and a new seed each time, printed so that a failure can be replayed
 * (FUZZ_SEED).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formPairs, keyPath, unflatten } from '../src/adapters/emailicious/values.js';
import { MailkitError } from '../src/adapters/mailkit/errors.js';
import { userData, userText } from '../src/adapters/mailkit/values.js';
import { SenderError } from '../src/adapters/sender/errors.js';
import { itemsOf, jsonParam, paramsOf } from '../src/adapters/sender/values.js';
import { isDomainError } from '../src/core/errors.js';
import { inputProblem, LONE_SURROGATE, MAX_DEPTH, TOO_DEEP } from '../src/core/input.js';
import { compileTemplate, TemplateError, TemplateValues } from '../src/core/delivery/template.js';
import { decodeMethodCall, encodeMethodCall, XmlRpcParseError, type XmlRpcValue } from '../src/rpc/xmlrpc.js';

export interface FuzzTarget {
  /** Base URL of a running gateway, and a key of account `account` on it. */
  url: string;
  key: { id: number; secret: string; account: string };
}

export interface FuzzProperty {
  name: string;
  /** Runs over HTTP (cost: a request each). */
  http: boolean;
  /** fc.assert of the property with these parameters. */
  check(p: CheckParams): void | Promise<void>;
}

interface CheckParams {
  numRuns: number;
  seed?: number;
}

const holds =
  <T>(prop: fc.IProperty<T>) =>
  (p: CheckParams) =>
    fc.assert(prop, p);
const holdsAsync =
  <T>(prop: fc.IAsyncProperty<T>) =>
  (p: CheckParams) =>
    fc.assert(prop, p);

// ------------------------------------------------------------------------------------------ arbitraries

// eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry, which the encoder replaces
const NOT_XML = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
/** Text XML-RPC carries unchanged: any Unicode scalar value XML 1.0 allows (`\r` included). */
const xmlText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(NOT_XML, ''));

/** Values as encodeMethodCall writes them and decodeMethodCall must give back. */
const { value: xmlValue } = fc.letrec<{ value: XmlRpcValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    xmlText,
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.boolean(),
    // Whole seconds (the wire format has none smaller) in years 0-9999 (four digits).
    fc.integer({ min: -62167219200, max: 253402300799 }).map((s) => new Date(s * 1000)),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(xmlText, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));

/** Text shaped like a wire document: fragments of the grammar with noise between them. */
const xmlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '<?xml version="1.0"?>',
        '<methodCall>',
        '</methodCall>',
        '<methodName>m</methodName>',
        '<params>',
        '</params>',
        '<param>',
        '</param>',
        '<value>',
        '</value>',
        '<struct>',
        '</struct>',
        '<member>',
        '</member>',
        '<name>n</name>',
        '<array>',
        '<data>',
        '</data>',
        '</array>',
        '<int>1</int>',
        '<string>',
        '</string>',
        '<base64>',
        '</base64>',
        '<dateTime.iso8601>20261206T10:00:00</dateTime.iso8601>',
        '<nil/>',
        '<![CDATA[',
        ']]>',
        '<!DOCTYPE x>',
        '<!ENTITY e "x">',
        '&amp;',
        '&#0;',
        '&#xD800;',
        '&e;',
        '<!--',
        '-->',
        '<',
        '>',
        '&',
      ),
      fc.string({ unit: 'binary', maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

const JSONRPC_METHODS = ['get_mailings_count', 'list_mailings', 'create_mailing', 'add_recipients', 'get_recipients_status', 'start_mailing', 'no_such_method'];
const jsonRpcRequest = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.jsonValue()),
    method: fc.oneof(fc.constantFrom(...JSONRPC_METHODS), fc.jsonValue()),
    params: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 5 }), fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const jsonRpcBody = fc.oneof(
  jsonRpcRequest.map((r) => JSON.stringify(r)),
  fc.array(fc.oneof(jsonRpcRequest, fc.jsonValue()), { maxLength: 6 }).map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary' }),
);

/** A form body: keys of names, dots and brackets, values of anything, some escapes broken. */
const formKey = fc
  .array(fc.oneof(fc.constantFrom('a', 'b', 'variants', 'list', '__proto__', '.', '[', ']', '[0]', '[1]', '[]', '%5B', '%5D'), fc.string({ maxLength: 3 })), {
    maxLength: 8,
  })
  .map((p) => p.join(''));
const formBody = fc
  .array(fc.tuple(formKey, fc.option(fc.string({ unit: 'binary', maxLength: 10 }))), { maxLength: 8 })
  .map((pairs) => pairs.map(([k, v]) => (v === null ? k : `${k}=${encodeURIComponent(v).replace(/%2[05]/g, (m) => (m === '%20' ? '+' : '%'))}`)).join('&'));

// -------------------------------------------------------------------------------------------- properties

/** Nothing but `expected` (or a successful return) from `fn`. */
function onlyThrows(fn: () => unknown, expected: (e: unknown) => boolean): void {
  try {
    fn();
  } catch (e) {
    if (!expected(e)) throw e;
  }
}

const isXmlParseError = (e: unknown) => e instanceof XmlRpcParseError;

export function fuzzProperties(target?: FuzzTarget): FuzzProperty[] {
  const props: FuzzProperty[] = [
    {
      name: 'xml-rpc: encode → decode gives every value back',
      http: false,
      check: holds(
        fc.property(fc.array(xmlValue, { maxLength: 4 }), (params) => {
          assert.deepEqual(decodeMethodCall(Buffer.from(encodeMethodCall('fuzz.call', params))), { methodName: 'fuzz.call', params });
        }),
      ),
    },
    {
      name: 'xml-rpc: any bytes decode or are XmlRpcParseError',
      http: false,
      check: holds(
        fc.property(
          fc.oneof(
            xmlish.map((s) => Buffer.from(s)),
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
          ),
          (body) => onlyThrows(() => decodeMethodCall(body), isXmlParseError),
        ),
      ),
    },
    {
      name: 'input rules: nesting measured without recursion, however deep; lone surrogates found at any depth',
      http: false,
      check: holds(
        fc.property(fc.integer({ min: 0, max: 5_000 }), fc.constantFrom('text', 'a\ud800', '\udc00b'), (levels, leaf) => {
          let deep: unknown = leaf;
          for (let i = 0; i < levels; i++) deep = i % 2 ? [deep] : { a: deep };
          assert.equal(inputProblem(deep), levels > MAX_DEPTH ? TOO_DEEP : leaf === 'text' ? undefined : LONE_SURROGATE);
        }),
      ),
    },
    {
      name: 'emailicious: any form body unflattens or is a domain error naming the key',
      http: false,
      check: holds(
        fc.property(formBody, (body) =>
          onlyThrows(() => {
            const pairs = formPairs(body);
            for (const [k] of pairs) if (k) keyPath(k);
            unflatten(pairs);
          }, isDomainError),
        ),
      ),
    },
    {
      name: 'sender: any parameters read as params/items or are a SenderError',
      http: false,
      check: holds(
        fc.property(fc.jsonValue(), fc.jsonValue(), fc.string({ unit: 'binary' }), (query, body, text) => {
          const p = paramsOf(query, body);
          const isSender = (e: unknown) => e instanceof SenderError;
          onlyThrows(() => jsonParam(p, 'params', 'object'), isSender);
          onlyThrows(() => jsonParam({ params: text }, 'params', 'object'), isSender);
          onlyThrows(() => itemsOf(p), isSender);
        }),
      ),
    },
    {
      name: 'mailkit: user data decodes to text or is a MailkitError; base64 of text gives the text back',
      http: false,
      check: holds(
        fc.property(fc.oneof(xmlValue, fc.jsonValue() as fc.Arbitrary<XmlRpcValue>), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), (v, s) => {
          const t = userText(v);
          assert.ok(t === undefined || typeof t === 'string');
          onlyThrows(
            () => userData(v, v, v),
            (e) => e instanceof MailkitError,
          );
          // eslint-disable-next-line no-control-regex -- a decoded text with control characters is taken as given, by design
          if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(s)) assert.equal(userText(Buffer.from(s).toString('base64')), s);
        }),
      ),
    },
    {
      name: 'templates: any source compiles and renders or is a TemplateError',
      http: false,
      check: holds(
        fc.property(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 60 }),
            fc
              .array(
                fc.oneof(
                  fc.constantFrom(
                    '{{',
                    '}}',
                    '{%',
                    '%}',
                    '{#',
                    '#}',
                    ' x ',
                    ' for i in range(5) ',
                    ' endfor ',
                    ' if x ',
                    ' endif ',
                    '|e',
                    '|upper',
                    'x.y',
                    '(',
                    ')',
                    '"',
                  ),
                  fc.string({ maxLength: 4 }),
                ),
                {
                  maxLength: 12,
                },
              )
              .map((p) => p.join('')),
          ),
          fc.boolean(),
          fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 4 }),
          (source, html, record) =>
            onlyThrows(
              () => {
                const out = compileTemplate(source, { html }).render(new TemplateValues(record, { email: 'a@example.org' }));
                assert.equal(typeof out, 'string');
              },
              (e) => e instanceof TemplateError,
            ),
        ),
      ),
    },
  ];
  if (target) props.push(...httpProperties(target));
  return props;
}

function httpProperties(t: FuzzTarget): FuzzProperty[] {
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const call = async (path: string, headers: Record<string, string>, body: string) => {
    const r = await fetch(`${t.url}${path}`, { method: 'POST', headers, body });
    return { status: r.status, text: await r.text() };
  };
  return [
    {
      name: 'jsonrpc over HTTP: every request answered in JSON-RPC shape, never -32603 or a 5xx',
      http: true,
      check: holdsAsync(
        fc.asyncProperty(jsonRpcBody, async (body) => {
          const r = await call('/jsonrpc', { authorization: basic('admin', t.key.secret), 'content-type': 'application/json' }, body);
          assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
          if (r.status === 204) return;
          const answers = [JSON.parse(r.text) as unknown].flat() as { jsonrpc: string; error?: { code: number } }[];
          for (const a of answers) {
            assert.equal(a.jsonrpc, '2.0');
            assert.notEqual(a.error?.code, -32603, r.text);
          }
        }),
      ),
    },
    {
      name: 'xml-rpc over HTTP: a fault or a response, never an internal error',
      http: true,
      check: holdsAsync(
        fc.asyncProperty(
          fc.oneof(
            xmlish,
            fc.array(xmlValue, { maxLength: 3 }).map((p) => encodeMethodCall('add_recipients', [1, p])),
          ),
          async (body) => {
            const r = await call('/CloudMailing', { authorization: basic('admin', t.key.secret), 'content-type': 'text/xml' }, body);
            assert.ok(r.status < 500, `${r.status} ${r.text}`);
            assert.doesNotMatch(r.text, /internal error/);
          },
        ),
      ),
    },
    {
      name: 'sender and emailicious over HTTP: any JSON or form body is answered below 500 in JSON',
      http: true,
      check: holdsAsync(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue().map((v) => ['application/json', JSON.stringify(v)] as const),
            formBody.map((b) => ['application/x-www-form-urlencoded', b] as const),
          ),
          fc.constantFrom('sender', 'emailicious'),
          async ([type, body], dialect) => {
            const r =
              dialect === 'sender'
                ? await call(`/api/0/${t.key.account}/maillist/fuzz/subscription`, { authorization: basic(t.key.secret, ''), 'content-type': type }, body)
                : await call('/api/v1/lists', { authorization: basic('me@example.org', t.key.secret), 'content-type': type }, body);
            assert.ok(r.status < 500, `${r.status} ${r.text}`);
            JSON.parse(r.text);
          },
        ),
      ),
    },
    {
      name: 'mailkit JSON over HTTP: an answer or a Mailkit error, never "Internal error"',
      http: true,
      check: holdsAsync(
        fc.asyncProperty(
          fc.constantFrom('mailkit.mailinglist.adduser', 'mailkit.mailinglist.create', 'mailkit.mailinglist.import', 'mailkit.email.getstatus', 'mailkit.nope'),
          fc.dictionary(fc.constantFrom('ID_user_list', 'name', 'personal', 'custom', 'address', 'recipients', 'email_id'), fc.jsonValue()),
          async (fn, parameters) => {
            const r = await call(
              '/json.fcgi',
              { 'content-type': 'application/json' },
              JSON.stringify({ function: fn, id: String(t.key.id), md5: t.key.secret, parameters }),
            );
            assert.equal(r.status, 200, r.text);
            assert.doesNotMatch(r.text, /Internal error/);
          },
        ),
      ),
    },
  ];
}

/** Every property with `runs` runs (HTTP ones a tenth, at least 20); the seed is printed on failure by fast-check. */
export async function runFuzz(
  props: FuzzProperty[],
  o: { runs: number; seed?: number; log?: (s: string) => void },
): Promise<{ name: string; runs: number; ms: number }[]> {
  const out: { name: string; runs: number; ms: number }[] = [];
  for (const p of props) {
    const runs = p.http ? Math.max(20, Math.floor(o.runs / 10)) : o.runs;
    const t = performance.now();
    await p.check({ numRuns: runs, ...(o.seed === undefined ? {} : { seed: o.seed }) });
    const ms = performance.now() - t;
    o.log?.(`# fuzz: ${p.name}: ${runs} runs, ${ms.toFixed(0)} ms`);
    out.push({ name: p.name, runs, ms });
  }
  return out;
}

/** The bench's `fuzz` scenario. */
export async function fuzzBench(target: FuzzTarget, line: (figure: string, value: string, target: string, ratio?: string) => void): Promise<void> {
  const runs = Number(process.env.BENCH_FUZZ_RUNS ?? 20_000);
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
  console.log(`# fuzz: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  const results = await runFuzz(fuzzProperties(target), { runs, seed, log: (s) => console.log(s) });
  const total = results.reduce((n, r) => n + r.runs, 0);
  line('fuzz: decoders, no failure', `${total} runs in ${(results.reduce((n, r) => n + r.ms, 0) / 1000).toFixed(1)} s`, 'every property holds');
}
