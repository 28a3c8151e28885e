/**
 * The rules of what tracking rewrites (src/core/delivery/links.ts), on compiled templates: which links count,
 * where the pixel goes, what a render without a Tracker gives, and the header values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, TemplateValues, trackLiteralHtml } from '../../src/core/delivery/template.js';
import { attributeValue, hostedTracker, labelOf, listIdOf, pythonQuote, trackingDefaults, type Tracker } from '../../src/core/delivery/links.js';
import { verifyClickToken } from '../../src/core/delivery/tokens.js';

const MARK: Tracker = { link: (i, written, rendered) => `[${i}|${written}|${rendered}]`, pixel: '<PIXEL>' };
const both = { links: true, pixel: 'body' as const };
const render = (source: string, values: Record<string, unknown> = {}, tracker: Tracker | null = MARK, html = false) =>
  compileTemplate(source, { html, tracking: both }).render(new TemplateValues(values, {}, tracker ?? undefined));

describe('tracking rules: which links', () => {
  it('links as written in text count, on the fast path and in the engine; mailto, relative, field-only and unsubscribe hrefs do not', () => {
    const links =
      '<a href="http://a.example/{{ x }}">A</a><a href="mailto:m@a.example">M</a><a href="/rel">R</a><a href="{{ url }}">U</a><a href="{{ unsubscribe }}">S</a>';
    assert.equal(
      render(links, { x: 1, url: 'http://u.example' }),
      '<a href="[0|http://a.example/{{ x }}|http://a.example/1]">A</a><a href="mailto:m@a.example">M</a><a href="/rel">R</a><a href="http://u.example">U</a><a href="">S</a><PIXEL>',
    );
    assert.equal(
      render(`{% if true %}${links}{% endif %}`, { x: 1, url: 'http://u.example' }),
      '<a href="[0|http://a.example/{{ x }}|http://a.example/1]">A</a><a href="mailto:m@a.example">M</a><a href="/rel">R</a><a href="http://u.example">U</a><a href="">S</a><PIXEL>',
    );
  });

  it('a link in a loop body counts once per rendering, numbered in document order', () => {
    assert.equal(
      render(
        '<a href="https://f.example/">F</a>{% for i in xs %}<a href="https://a.example/{{ i }}">{{ i }}</a>{% endfor %}<a href="https://z.example/">Z</a>',
        { xs: [1, 2] },
      ),
      '<a href="[0|https://f.example/|https://f.example/]">F</a><a href="[1|https://a.example/{{ i }}|https://a.example/1]">1</a><a href="[2|https://a.example/{{ i }}|https://a.example/2]">2</a><a href="[3|https://z.example/|https://z.example/]">Z</a><PIXEL>',
    );
  });

  it('a link inside a construct, or whose href holds an unclosed one, is left as written (and the template compiles)', () => {
    assert.equal(render(`{% set l = '<a href="http://s.example/">S</a>' %}{{ l }}`), '<a href="http://s.example/">S</a><PIXEL>');
    assert.equal(render(`{{ '<a href="http://e.example/">E</a>' }}`), '<a href="http://e.example/">E</a><PIXEL>');
    assert.equal(
      render(`<a href="http://q.example/{{ x|default('a') }}">Q</a>{% if true %}{% endif %}`, { x: 'v' }),
      `<a href="http://q.example/v">Q</a><PIXEL>`,
    );
  });

  it('without a Tracker a render gives the links as written and no pixel', () => {
    const source = '<html><body><a href="http://a.example/{{ x }}">A</a></body></html>\n';
    assert.equal(render(source, { x: 1 }, null), '<html><body><a href="http://a.example/1">A</a></body></html>\n');
    assert.equal(render(`{% if true %}${source}{% endif %}`, { x: 1 }, null), '<html><body><a href="http://a.example/1">A</a></body></html>\n');
    const end = compileTemplate('<p>x {{ y }}</p>\r\n', { tracking: { links: false, pixel: 'end' } });
    assert.equal(end.render(new TemplateValues({ y: 1 })), '<p>x 1</p>\r\n');
    assert.equal(
      end.render(new TemplateValues({ y: 1 }, {}, MARK)),
      '<p>x 1</p><PIXEL>',
      "at the end, after the template's last line break is dropped (as Jinja2 drops it)",
    );
  });
});

describe('tracking rules: the pixel and the hosted links', () => {
  it('the hosted pixel goes before the last </body> whatever its case, else at the end', () => {
    assert.equal(render('<body><p>a</p></BODY >\n<p>after</p>'), '<body><p>a</p><PIXEL></BODY >\n<p>after</p>');
    assert.equal(render('{% if true %}<body>x</body>{% endif %}'), '<body>x<PIXEL></body>');
    assert.equal(render('<p>no body</p>'), '<p>no body</p><PIXEL>');
  });

  it('a hosted link is signed for the URL the browser reads (references decoded) and stays html-safe in either quote', () => {
    const secret = Buffer.from('k');
    const t = hostedTracker({ publicUrl: 'https://pub.example', secret }, 42);
    const out = compileTemplate(`<a href='https://a.example/?q={{ q }}&amp;r=1'>A</a>`, { html: true, tracking: both }).render(
      new TemplateValues({ q: "it's" }, {}, t),
    );
    const m = /^<a href='https:\/\/pub\.example\/t\/c\/([^'?]+)\?u=([^']+)'>A<\/a><img src="https:\/\/pub\.example\/t\/o\/42\.[^"]+\.gif"/.exec(out);
    assert.ok(m, out);
    assert.ok(!m[2]!.includes("'"));
    assert.equal(decodeURIComponent(m[2]!), "https://a.example/?q=it's&r=1");
    assert.deepEqual(verifyClickToken(secret, m[1]!, "https://a.example/?q=it's&r=1"), { recipientId: 42, linkIndex: 0 });
    assert.equal(attributeValue('a&amp;b&#39;c&#x41;&nbsp;'), "a&b'cA&nbsp;");
  });

  it("a transactional message's own html: its links and pixel, its braces as text", () => {
    assert.equal(
      trackLiteralHtml('<a href="http://a.example/{{x}}">A</a></body>', both, MARK),
      '<a href="[0|http://a.example/{{x}}|http://a.example/{{x}}]">A</a><PIXEL></body>',
    );
  });
});

describe('tracking rules: defaults and headers', () => {
  it('defaults per dialect: CloudMailing as the original, the three tracking services on, others off', () => {
    assert.deepEqual(trackingDefaults('cloudmailing'), { readTracking: true, clickTracking: false });
    for (const d of ['mailkit', 'emailicious', 'sender']) assert.deepEqual(trackingDefaults(d), { readTracking: true, clickTracking: true });
    assert.deepEqual(trackingDefaults('system'), { readTracking: false, clickTracking: false });
  });

  it('Python quote: every byte but A-Za-z0-9_.-~/ as %XX', () => {
    assert.equal(pythonQuote("http://a.b/c d?e=f&g=é~_!'()*"), 'http%3A//a.b/c%20d%3Fe%3Df%26g%3D%C3%A9~_%21%27%28%29%2A');
  });

  it('List-Id: a DNS label of the name, then the id the client knows', () => {
    assert.equal(labelOf('  Clients fidèles — 2026! '), 'clients-fideles-2026');
    assert.equal(listIdOf({ kind: 'list', id: '7', name: 'Weekly News' }, 'b.example'), 'weekly-news.7.b.example');
    assert.equal(listIdOf({ kind: 'list', id: 'SBPYSTY1-ALV', name: 'SBPYSTY1-ALV' }, 'b.example'), 'sbpysty1-alv.b.example');
    assert.equal(listIdOf({ kind: 'mailing', id: '12', name: null }, 'b.example'), 'mailing.12.b.example');
    assert.equal(listIdOf({ kind: 'mailing', id: '12', name: '!!!' }, 'b.example'), 'mailing.12.b.example');
  });
});
