/**
 * Which Jinja2 engine renders Mailgate's templates: `npm run bench -- templates`, or on its own
 * `node --import tsx bench/templates.ts`. Candidates from the npm registry, each set up as Mailgate would use
 * it: minijinja-js (MiniJinja, by Jinja2's author, compiled to WebAssembly), @huggingface/jinja (an
 * interpreter in JavaScript), nunjucks (Jinja-like; its docs call it unsafe for untrusted templates) and
 * liquidjs (Liquid). Beside them "mailgate": minijinja-js as src/core/delivery/template.ts wraps it (memory
 * maximum, fuel, output limit, a fresh instance after a trap).
 *
 * (a) Constructs: every Jinja2 construct the real sources use, compared with what Jinja2 renders. Expected
 *     outputs are written here from Jinja2 3.1's semantics and, when python3 can import jinja2, checked
 *     against `jinja2.Template(source).render(context)` in this run (what the original CloudMailing calls).
 * (b) Attacks: the known template escapes and runaway templates, each in a process of its own (512 MB heap,
 *     10 s): refused (an error), harmless (rendered, nothing reached), ESCAPED (JavaScript's `process`, a
 *     function's source or Python internals in the output), crashed (the process died) or hung (killed). Real
 *     Jinja2 beside them: `jinja2.Template` (the original's) and its SandboxedEnvironment. Then every attack
 *     again through Mailgate's engine in this very process, which must stay up and render afterwards.
 * (c) Cost: one ~5 KB html with conditions, a loop and filters, compiled once, rendered per recipient
 *     (µs per render, median of 3 rounds of BENCH_TEMPLATE_RENDERS (20000)); beside it the `{{ field }}`
 *     fast path on a 5 KB html; module load time (a fresh process) and size on disk.
 * Measurements only, never part of `npm test`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JINJA2_CONSTRUCTS, JINJA2_CONTEXT } from '../test/templates/jinja2-cases.js';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..');
const RENDERS = Number(process.env.BENCH_TEMPLATE_RENDERS ?? 20_000);

// ------------------------------------------------------------------------------------------------ the cases

const CONTEXT = JINJA2_CONTEXT;
const CASES = JINJA2_CONSTRUCTS;

const ATTACKS: [string, string][] = [
  ["''.__class__.__mro__", "{{ ''.__class__.__mro__ }}"],
  ['self.__init__.__globals__', '{{ self.__init__.__globals__ }}'],
  ['cycler.__init__.__globals__.os', '{{ cycler.__init__.__globals__.os }}'],
  ["range.constructor('return process')()", "{{ range.constructor('return process')() }}"],
  ["''.constructor.constructor('return process')()", "{{ ''.constructor.constructor('return process')() }}"],
  ['user.constructor.constructor(…process.env)', "{{ user.constructor.constructor('return process.env')() }}"],
  ['__proto__ / constructor / prototype', "{{ user.__proto__ }}{{ user['__proto__'] }}{{ user.constructor }}{{ name.constructor }}{{ range.prototype }}"],
  ['range(10**9)', '{% for i in range(10**9) %}x{% endfor %}'],
  ['nested range(100000) x2', '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}'],
  ['macro recursion', '{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}'],
  ["'x' * 10**9", "{{ 'x' * 1000000000 }}"],
  ['string doubled 40 times', "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"],
];

/** ~5 KB of html with conditions, a loop and filters that every Jinja candidate parses. */
const COST_HTML = `<html><body><h1>Hello {{ user.name|upper }}</h1>
{% if n > 10 %}<p>Big customer</p>{% elif n > 5 %}<p>Good customer {{ name|default('friend') }}</p>{% else %}<p>Welcome</p>{% endif %}
<table>{% for q in quotas %}<tr><td>{{ loop.index }}</td><td>{{ q.name }}</td><td>{{ q.used }}/{{ q.limit }}</td>{% if q.used >= q.limit %}<td>full</td>{% endif %}</tr>{% endfor %}</table>
<p>You have {{ items|length }} items.</p>
${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. {{ name }}</p>\n'.repeat(30)}</body></html>`;
/** The same page in Liquid. */
const COST_LIQUID = COST_HTML.replace('{{ user.name|upper }}', '{{ user.name | upcase }}')
  .replace("{{ name|default('friend') }}", "{{ name | default: 'friend' }}")
  .replace('{% elif', '{% elsif')
  .replace('{{ loop.index }}', '{{ forloop.index }}')
  .replace('{{ items|length }}', '{{ items | size }}');
/** The fast path's kind of page: ~5 KB, only `{{ field }}`. */
const PLAIN_HTML = `<html><body><h1>Hello {{ name }}</h1>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. {{ city }}</p>\n'.repeat(38)}</body></html>`;

// ------------------------------------------------------------------------------------------------ the candidates

interface Engine {
  compile(source: string): (ctx: Record<string, unknown>) => string;
}
type Name = 'minijinja-js' | '@huggingface/jinja' | 'nunjucks' | 'liquidjs' | 'mailgate';
const NAMES: Name[] = ['minijinja-js', '@huggingface/jinja', 'nunjucks', 'liquidjs', 'mailgate'];

async function engine(name: Name): Promise<Engine> {
  switch (name) {
    case 'minijinja-js': {
      const { Environment } = require('minijinja-js') as {
        Environment: new () => {
          debug: boolean;
          fuel: number;
          enablePyCompat(): void;
          addTemplate(n: string, s: string): void;
          renderTemplate(n: string, c: unknown): string;
        };
      };
      const env = new Environment();
      env.debug = false;
      env.enablePyCompat();
      env.fuel = 1_000_000;
      let id = 0;
      return {
        compile(source) {
          const n = `t${id++}.txt`;
          env.addTemplate(n, source);
          return (ctx) => env.renderTemplate(n, ctx);
        },
      };
    }
    case '@huggingface/jinja': {
      const { Template } = await import('@huggingface/jinja');
      return {
        compile(source) {
          const t = new Template(source);
          return (ctx) => t.render(ctx);
        },
      };
    }
    case 'nunjucks': {
      const nunjucks = require('nunjucks') as {
        Environment: new (loader: null, o: { autoescape: boolean }) => object;
        compile(s: string, env: object): { render(c: object): string };
      };
      const env = new nunjucks.Environment(null, { autoescape: false });
      return {
        compile(source) {
          const t = nunjucks.compile(source, env);
          return (ctx) => t.render(ctx);
        },
      };
    }
    case 'liquidjs': {
      const { Liquid } = await import('liquidjs');
      const liquid = new Liquid();
      return {
        compile(source) {
          const t = liquid.parse(source);
          return (ctx) => String(liquid.renderSync(t, ctx));
        },
      };
    }
    case 'mailgate': {
      const { compileTemplate, TemplateValues } = await import('../src/core/delivery/template.js');
      return {
        compile(source) {
          const t = compileTemplate(source);
          return (ctx) => t.render(new TemplateValues(ctx));
        },
      };
    }
  }
}

const packageDir = (name: Name) => path.join(root, 'node_modules', name === 'mailgate' ? 'minijinja-js' : name);
function diskSize(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? diskSize(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size;
  return n;
}
/** Its own dependencies too (nunjucks brings three). */
function installedSize(name: Name): number {
  const deps = Object.keys((require(path.join(packageDir(name), 'package.json')) as { dependencies?: Record<string, string> }).dependencies ?? {});
  return diskSize(packageDir(name)) + deps.reduce((n, d) => n + diskSize(path.join(root, 'node_modules', d)), 0);
}

// ------------------------------------------------------------------------------------------------ child processes

const self = fileURLToPath(import.meta.url);
function child(args: string[], timeoutMs = 10_000): { code: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', '--import', 'tsx', self, ...args], { encoding: 'utf8', timeout: timeoutMs, cwd: root });
  const timedOut = r.error !== undefined && 'code' in r.error && r.error.code === 'ETIMEDOUT';
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut };
}

const LEAK = /\[object process\]|process|function\s*\(|<class|<module|__builtins__|globals|\{'__name__'/i;

function classify(kind: 'error' | 'output', text: string): string {
  if (kind === 'error') return `refused: ${text.split('\n')[0]!.slice(0, 70)}`;
  if (LEAK.test(text)) return `ESCAPED: ${JSON.stringify(text.slice(0, 40))}`;
  return `harmless: ${JSON.stringify(text.length > 30 ? `${text.slice(0, 30)}… (${text.length} chars)` : text)}`;
}

function attackInChild(name: Name, index: number): string {
  const t0 = performance.now();
  const r = child(['--attack', name, String(index)]);
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.timedOut) return `hung (killed at 10 s)`;
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) return `crashed (${r.signal ?? `exit ${r.code}`}${/heap out of memory|Allocation failed/.test(r.stderr) ? ', out of memory' : ''}, ${s} s)`;
  const { kind, text } = JSON.parse(line) as { kind: 'error' | 'output'; text: string };
  return `${classify(kind, text)} (${s} s)`;
}

/** Load time of a package in a fresh process (ms), median of 3. */
function loadMs(name: Name): number {
  const times = [0, 1, 2].map(() => Number(child(['--load', name]).stdout.trim()));
  return times.sort((a, b) => a - b)[1]!;
}

// ------------------------------------------------------------------------------------------------ Jinja2 itself

const PYTHON = `
import json, sys
try:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment
except ImportError:
    print(json.dumps(None)); sys.exit(0)
d = json.load(sys.stdin)
def run(f, s):
    try: return {"kind": "output", "text": f(s).render(d["ctx"])}
    except Exception as e: return {"kind": "error", "text": type(e).__name__ + ": " + str(e)}
print(json.dumps({"version": jinja2.__version__,
  "cases": [run(jinja2.Template, s) for s in d["cases"]],
  "attacks": [[run(jinja2.Template, s), run(SandboxedEnvironment().from_string, s)] for s in d["attacks"]]}))
`;
interface Outcome {
  kind: 'error' | 'output';
  text: string;
}
function jinja2Reference(): { version: string; cases: Outcome[]; attacks: [Outcome, Outcome][] } | null {
  // The resource attacks would take Jinja2 minutes or the machine's memory: only the escapes are run there.
  const attacks = ATTACKS.slice(0, 7).map(([, s]) => s);
  const r = spawnSync('python3', ['-c', PYTHON], {
    input: JSON.stringify({ ctx: CONTEXT, cases: CASES.map(([, s]) => s), attacks }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout) as ReturnType<typeof jinja2Reference>;
}

// ------------------------------------------------------------------------------------------------ cost

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** µs per render of a compiled template, median of 3 rounds, recipients differing by name and numbers. */
function renderCost(render: (ctx: Record<string, unknown>) => string): number {
  const contexts = Array.from({ length: 100 }, (_, i) => ({ ...CONTEXT, name: `Ann ${i}`, n: i % 12, city: 'Lyon', user: { name: `Zoë ${i}`, plan: 'pro' } }));
  for (let i = 0; i < 1000; i++) render(contexts[i % 100]!);
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < RENDERS; i++) render(contexts[i % 100]!);
    rounds.push(((performance.now() - t) * 1000) / RENDERS);
  }
  return median(rounds);
}

// ------------------------------------------------------------------------------------------------ the comparison

export interface TemplatesResult {
  table: string;
  /** µs per recipient: Mailgate's engine on the ~5 KB page with logic, and the fast path's page. */
  mailgateUs: number;
  fastPathUs: number;
}

export async function compareTemplates(log: (s: string) => void = console.log): Promise<TemplatesResult> {
  const reference = jinja2Reference();
  log(
    reference
      ? `# Jinja2 ${reference.version} importable by python3: expected outputs checked against it in this run`
      : '# jinja2 not importable by python3: expected outputs are those written in bench/templates.ts from Jinja2 3.1 semantics',
  );
  if (reference)
    CASES.forEach(([what, , expected], i) => {
      const got = reference.cases[i]!;
      assert.deepEqual(got, { kind: 'output', text: expected }, `the written expectation of ${what} is not what Jinja2 renders`);
    });

  const rows: string[][] = [];
  const head = ['', ...NAMES.filter((n) => n !== 'mailgate'), 'mailgate (as integrated)'];
  const engines = new Map<Name, Engine>();
  for (const name of NAMES) engines.set(name, await engine(name));

  // (a) constructs
  let passed = new Map<Name, number>(NAMES.map((n) => [n, 0]));
  for (const [what, source, expected] of CASES) {
    const row = [what];
    for (const name of NAMES) {
      let cell: string;
      try {
        const out = engines.get(name)!.compile(source)(CONTEXT);
        if (out === expected) {
          cell = 'ok';
          passed.set(name, passed.get(name)! + 1);
        } else cell = `differs: ${JSON.stringify(out.slice(0, 40))}`;
      } catch (e) {
        cell = `error: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 50)}`;
      }
      row.push(cell);
    }
    rows.push(row);
  }
  rows.push(['constructs as Jinja2 renders them', ...NAMES.map((n) => `${passed.get(n)}/${CASES.length}`)]);
  passed = new Map();

  // (b) attacks, each in its own process
  const attackRows: string[][] = [];
  for (const [i, [what]] of ATTACKS.entries()) attackRows.push([what, ...NAMES.map((n) => attackInChild(n, i))]);

  // ... and through Mailgate's engine here: this process must stay up and render afterwards.
  const mailgate = engines.get('mailgate')!;
  for (const [, source] of ATTACKS)
    try {
      mailgate.compile(source)(CONTEXT);
    } catch {
      // refused: the point
    }
  const after = mailgate.compile('{% if name %}{{ name }} still here{% endif %}')(CONTEXT);
  assert.equal(after, 'Ann still here');

  // (c) cost
  const cost: string[] = ['render ~5 KB html (conditions, loop, filters), µs/recipient'];
  let mailgateUs = NaN;
  for (const name of NAMES) {
    try {
      const render = engines.get(name)!.compile(name === 'liquidjs' ? COST_LIQUID : COST_HTML);
      const us = renderCost(render);
      if (name === 'mailgate') mailgateUs = us;
      cost.push(`${us.toFixed(1)}${name === 'liquidjs' ? ' (the same page in Liquid)' : ''}`);
    } catch (e) {
      cost.push(`error: ${(e instanceof Error ? e.message : String(e)).slice(0, 40)}`);
    }
  }
  const plain = engines.get('mailgate')!.compile(PLAIN_HTML);
  const fastPathUs = renderCost(plain);
  const loads = ['module load in a fresh process, ms', ...NAMES.map((n) => loadMs(n).toFixed(1))];
  const sizes = [
    'installed size',
    ...NAMES.map((n) => `${(installedSize(n) / 1024).toFixed(0)} KB${n.includes('minijinja') || n === 'mailgate' ? ' (1 MB wasm)' : ''}`),
  ];

  const jinja2Rows: string[] = [];
  if (reference)
    reference.attacks.forEach(([plainJinja, sandboxed], i) =>
      jinja2Rows.push(`| ${ATTACKS[i]![0]} | ${classify(plainJinja.kind, plainJinja.text)} | ${classify(sandboxed.kind, sandboxed.text)} |`),
    );

  const md = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`;
  const table = [
    md(head),
    md(head.map(() => '---')),
    ...rows.map(md),
    md(['**attacks** (own process, 512 MB heap, 10 s)', ...NAMES.map(() => '')]),
    ...attackRows.map(md),
    md(cost),
    md(['render ~5 KB `{{ field }}` only, µs/recipient', '', '', '', '', `${fastPathUs.toFixed(1)} (fast path, no engine)`]),
    md(loads),
    md(sizes),
    ...(reference
      ? [
          '',
          `Jinja2 ${reference.version} itself on the escapes:`,
          '',
          '| attack | jinja2.Template (the original CloudMailing) | SandboxedEnvironment |',
          '| --- | --- | --- |',
          ...jinja2Rows,
        ]
      : []),
  ].join('\n');
  log(table);
  return { table, mailgateUs, fastPathUs };
}

// ------------------------------------------------------------------------------------------------ entry

const argv = process.argv.slice(2);
if (argv[0] === '--attack') {
  const name = argv[1] as Name;
  const [, source] = ATTACKS[Number(argv[2])]!;
  const e = await engine(name);
  try {
    const out = e.compile(source)({ ...CONTEXT });
    console.log(JSON.stringify({ kind: 'output', text: out.slice(0, 200) + (out.length > 200 ? `… (${out.length} chars)` : '') }));
  } catch (err) {
    console.log(JSON.stringify({ kind: 'error', text: err instanceof Error ? err.message : String(err) }));
  }
  process.exit(0);
} else if (argv[0] === '--load') {
  const t = performance.now();
  await engine(argv[1] as Name).then((e) => (argv[1] === 'mailgate' ? e.compile('{% if x %}{% endif %}') : e));
  console.log((performance.now() - t).toFixed(2));
  process.exit(0);
} else if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  await compareTemplates();
}
