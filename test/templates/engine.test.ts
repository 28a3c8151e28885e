/**
 * Templates on their own (src/core/delivery/template.ts and jinja.ts): which path a template takes, every
 * Jinja2 construct the real sources use as Jinja2 3.1 renders it, recipient data kept as data, the known
 * template escapes, and the limits that stop a runaway template for one render while the next renders.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, convertKeepingTemplate, needsEngine, templateError, TemplateError, TemplateValues } from '../../src/core/delivery/template.js';
import { percentFormat, withMemoryMaximum } from '../../src/core/delivery/jinja.js';
import { JINJA2_CONSTRUCTS, JINJA2_CONTEXT } from './jinja2-cases.js';

const VALUES = new TemplateValues(JINJA2_CONTEXT);

const render = (source: string, html = false) => compileTemplate(source, { html }).render(VALUES);

const CONSTRUCTS = JINJA2_CONSTRUCTS;

describe('templates: the two paths', () => {
  it('only `{{ field }}` is the compiled fast path (no engine); any other closed Jinja2 construct is the engine', () => {
    assert.equal(needsEngine('Hi {{ name }} {{user.name}} {{ first-name }}'), false);
    assert.equal(needsEngine('a lone {{ or {% is text'), false);
    for (const s of ['{% if x %}{% endif %}', '{{ x|upper }}', '{# c #}', '{{ 1 + 1 }}']) assert.equal(needsEngine(s), true, s);
    const fast = compileTemplate('Hi {{ name }}, {{ NAME }} {{ user.name }} {{ missing }}!', { html: true });
    assert.deepEqual(fast.fieldNames, ['name', 'NAME', 'user.name', 'missing']);
    assert.equal(fast.render(new TemplateValues({ name: 'A & <B>', user: { name: 'Zoë' } })), 'Hi A &amp; &lt;B&gt;, A &amp; &lt;B&gt; Zoë !');
    // A map of texts (what the message tests hand over) renders the same way.
    assert.equal(compileTemplate('Hi {{ name }}').render(new Map([['name', 'Ann']])), 'Hi Ann');
    assert.equal(compileTemplate('{% if name %}Hi {{ name }}{% endif %}').render(new Map([['name', 'Ann']])), 'Hi Ann');
  });
});

describe('templates: Jinja2 constructs, as Jinja2 renders them', () => {
  for (const [what, source, expected] of CONSTRUCTS) {
    it(what, () => {
      assert.equal(render(source), expected);
    });
  }

  it('escaping: none unless `|e` (Jinja2 default); with html, every `{{ }}` escaped', () => {
    assert.equal(render('{{ html }}'), '<a href="x">&\'');
    assert.match(render('{{ html }}|{% if true %}{{ name }}{% endif %}', true), /^&lt;a href=&quot;x&quot;&gt;&amp;&#(?:x27|39);\|Ann$/);
  });

  it('recipient data is data: a value holding template syntax renders as those characters, on both paths', () => {
    assert.equal(render('{{ data }}'), '{{ 7*7 }}{% if true %}x{% endif %}');
    assert.equal(render('{% if data %}{{ data }}{% endif %}'), '{{ 7*7 }}{% if true %}x{% endif %}');
  });

  it("Python's % formatting, as the format filter applies it", () => {
    assert.equal(percentFormat('%s|%5d|%-4s|%05.1f|%x|%%|%r', ['a', 42, 'b', 3.14159, 255, 'q']), "a|   42|b   |003.1|ff|%|'q'");
    assert.throws(() => percentFormat('%d', ['x']));
    assert.throws(() => percentFormat('%s', []));
  });
});

describe('templates: refused when set', () => {
  it('a template that cannot compile names its line; `{{ field }}` and plain text always compile', () => {
    assert.equal(templateError('<p>\n{% if x %}\nno end'), 'line 2: syntax error: unexpected end of input, expected end of block');
    assert.match(templateError('a\n{{ x + }}')!, /^line 2: syntax error/);
    assert.equal(templateError('Hi {{ name }}'), null);
    assert.equal(templateError('{% for q in quotas %}{{ q.name }}{% endfor %}'), null);
    assert.throws(
      () => compileTemplate('{% endif %}'),
      (e: unknown) => e instanceof TemplateError && e.kind === 'syntax' && e.line === 1,
    );
  });

  it('the text made from html keeps the constructs as written (headings are upper-cased around them)', async () => {
    const upper = (h: string) => h.replace(/<[^>]+>/g, '').toUpperCase();
    assert.equal(await convertKeepingTemplate('<h1>Hi {{ name|upper }}</h1>{% if x %}y{% endif %}', upper), 'HI {{ name|upper }}{% if x %}Y{% endif %}');
  });
});

describe('templates: the sandbox', () => {
  // Each known escape is refused when rendered (nothing of Python or JavaScript exists in the sandbox).
  const ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    '{{ self.__init__.__globals__ }}',
    '{{ cycler.__init__.__globals__.os }}',
    "{{ range.constructor('return process')() }}",
    "{{ ''.constructor.constructor('return process')() }}",
    "{{ user.constructor.constructor('return process.env')() }}",
    "{{ ''|attr('__class__') }}",
    '{% set x = {} %}{% set x.__proto__ = 1 %}',
  ];
  for (const source of ESCAPES) {
    it(source, () => {
      let out: string;
      try {
        out = render(source);
      } catch (e) {
        assert.ok(e instanceof TemplateError, String(e));
        return;
      }
      assert.doesNotMatch(out, /process|function|class|module|object|env/i, out);
    });
  }

  it('prototype walks find nothing: __proto__, constructor, prototype are absent names', () => {
    assert.equal(render("[{{ user.__proto__ }}|{{ user['__proto__'] }}|{{ user.constructor }}|{{ name.constructor }}|{{ user.prototype }}]"), '[||||]');
    // Fields of those names (as a JSON body brings them) are just fields, on both paths.
    const own = new TemplateValues(JSON.parse('{"constructor": "c", "__proto__": "p"}') as Record<string, unknown>);
    assert.equal(compileTemplate('{% if true %}{{ constructor }}{{ __proto__ }}{% endif %}').render(own), 'cp');
    assert.equal(compileTemplate('{{ constructor }}{{ __proto__ }}').render(own), 'cp');
  });
});

describe('templates: limits stop a runaway render, and the next render works', () => {
  const LIMITS: [string, string, RegExp][] = [
    ['a loop of a billion', '{% for i in range(10**9) %}x{% endfor %}', /range has too many elements/],
    ['nested loops', '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}', /ran out of fuel/],
    ['a macro calling itself', '{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}', /recursion limit/],
    ['a string of a billion characters', "{{ 'x' * 1000000000 }}", /more memory than a template may use/],
    ['a string doubled forty times', "{% set s = 'xxxxxxxxxx' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s|length }}", /more memory/],
    ['an output over the limit', "{% for i in range(12) %}{{ 'x' * 1000000 }}{% endfor %}", /rendered text is over/],
  ];
  for (const [what, source, message] of LIMITS) {
    it(what, () => {
      assert.throws(
        () => render(source),
        (e: unknown) => e instanceof TemplateError && e.kind === 'limit' && message.test(e.message),
      );
      assert.equal(render('{% if name %}{{ name }} again{% endif %}'), 'Ann again');
    });
  }

  it("the module's memory gets a maximum: one memory section rewritten, the rest byte for byte", () => {
    // A module of one memory (min 1, no max): magic, version, section 5.
    const mod = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
    const out = withMemoryMaximum(mod, 4096);
    assert.deepEqual([...out], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 5, 1, 1, 1, 0x80, 0x20]);
    // Node's typings do not declare WebAssembly: the little of it used here.
    const wasm = (
      globalThis as unknown as {
        WebAssembly: { Module: new (b: Buffer) => object; Instance: new (m: object) => { exports: { m: { grow(n: number): number } } } };
      }
    ).WebAssembly;
    const memory = new wasm.Instance(new wasm.Module(Buffer.concat([out, Buffer.from([7, 5, 1, 1, 0x6d, 2, 0])]))).exports.m;
    assert.equal(memory.grow(4094), 1);
    assert.throws(() => memory.grow(2), 'past the maximum');
  });
});
