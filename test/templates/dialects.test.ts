/**
 * Jinja2 templates end to end, as real clients set them: CloudMailing driven by Python's xmlrpc.client (as the
 * original server's acceptance suite drives it), a Yandex Sender transactional send with nested `args` (Python
 * `requests`, as Yandex Pay's client), an Emailicious mailing; every message received by a real SMTP server on
 * 127.0.0.1 and read by mailparser. Escapes refused or harmless, runaway templates stopped for their recipient
 * alone, templates that cannot compile refused when set with nothing stored.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ParsedMail } from 'mailparser';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { cloudmailingCalls, type XmlRpcAnswer } from '../support/python-xmlrpc.js';
import { waitFor } from '../support/wait.js';
import { requestsCall } from '../sender/client.js';
import { call as emailicious } from '../emailicious/client.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let relay: TestSmtpServer;
let dir: string;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-templates-'));
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

type Answer = XmlRpcAnswer;

const cloudmailing = (...calls: [string, unknown[]][]): Promise<Answer[]> => cloudmailingCalls(gw.url, gw.key.secret, calls);

async function received(address: string): Promise<ParsedMail> {
  await waitFor(`a message to ${address}`, () => relay.to(address).length > 0);
  return await relay.to(address)[0]!.parse();
}

async function recipientRow(email: string) {
  await waitFor(`${email} final`, async () => {
    const { rows } = await gw.pool.query<{ status: string }>('SELECT status FROM recipients WHERE email = $1', [email]);
    return rows.length > 0 && !['ready', 'warning'].includes(rows[0]!.status);
  });
  const { rows } = await gw.pool.query<{ status: string; reply_text: string | null }>('SELECT status, reply_text FROM recipients WHERE email = $1', [email]);
  return rows[0]!;
}

/**
 * A CloudMailing html part without the hosted pixel that read tracking (on by default, as the original's
 * `read_tracking`) puts at its end when the html has no `</body>`: asserted there, then taken off.
 */
function withoutPixel(html: unknown): string {
  const m = /<img src="http:\/\/mailgate\.test\/t\/o\/[^"]+\.gif"[^>]*\/>$/.exec(String(html));
  assert.ok(m, `the pixel ends ${String(html)}`);
  return String(html).slice(0, m.index).trim();
}

const mailingCount = async () => Number((await gw.pool.query<{ n: string }>('SELECT count(*) AS n FROM mailings')).rows[0]!.n);

/** Every construct the sources use, in the subject, the text and the html. */
const SUBJECT = "{% if user.plan == 'pro' %}Pro{% else %}Free{% endif %} notice for {{ user.name|upper }}";
const TEXT = [
  'Hello {{ firstname|default("friend") }},',
  '{% for x in items %}{{ loop.index }}. {{ x }}\n{% endfor %}',
  '{% set total = quotas|map(attribute="used")|sum %}Used: {{ total }} in {{ quotas|length }} quotas',
  '{{ "%s is at %d%%"|format(user.name, 90) }}',
  'Raw: {{ data }}',
].join('\n');
const HTML = [
  '<h1>Hi {{ user.name }}</h1>',
  '{% if n > 10 %}<p>big</p>{% elif n > 5 %}<p>mid</p>{% else %}<p>small</p>{% endif %}',
  '<ul>{% for q in quotas %}{% if q.cloud %}<li>{{ q.cloud }}: {{ q.name }} {{ q.used }}/{{ q.limit }}{% if q.used >= q.limit %} (full){% endif %}</li>{% endif %}{% endfor %}</ul>',
  '<p>{{ markup }}</p><p>{{ markup|e }}</p><p>{{ data }}</p>',
  '<a href="{{ unsubscribe }}">unsubscribe</a>',
].join('\n');
/** CloudMailing's html also has the link url-encoded, as an html editor writes it into an href. */
const CM_HTML = `${HTML}\n<a href="%7B%7B%20unsubscribe%20%7D%7D">leave</a><a href="%7B%7Bunsubscribe%7D%7D">leave</a>`;
const FIELDS = {
  firstname: 'Ann',
  n: 7,
  items: ['alpha', 'beta'],
  user: { name: 'Zoë', plan: 'pro' },
  quotas: [
    { name: 'vCPU', cloud: 'c1', used: 9, limit: 10 },
    { name: 'RAM', cloud: '', used: 1, limit: 64 },
    { name: 'Disks', cloud: 'c2', used: 5, limit: 5 },
  ],
  markup: '<b>bold</b> & "q"',
  data: '{{ 7*7 }}',
};

function assertEveryConstruct(m: ParsedMail, unsubscribePrefix: string) {
  assert.equal(m.subject, 'Pro notice for ZOË');
  const text = m.text ?? '';
  assert.match(text, /^Hello Ann,\n1\. alpha\n2\. beta\n\nUsed: 15 in 3 quotas\nZoë is at 90%\nRaw: \{\{ 7\*7 \}\}/);
  const html = String(m.html);
  assert.match(html, /<h1>Hi Zoë<\/h1>\n<p>mid<\/p>\n<ul><li>c1: vCPU 9\/10<\/li><li>c2: Disks 5\/5 \(full\)<\/li><\/ul>/);
  assert.ok(html.includes('<p>{{ 7*7 }}</p>'), 'a field holding template syntax is data');
  assert.ok(html.includes(`<a href="${unsubscribePrefix}`), html);
}

describe('templates: CloudMailing, driven by Python xmlrpc.client', () => {
  it('renders every construct in subject, text and html, nested fields as they came; html as the original: only |e escapes', async () => {
    const [created] = await cloudmailing(['create_mailing', ['news@jinja.example', 'Jinja', SUBJECT, CM_HTML, TEXT, 'UTF-8']]);
    assert.ok(typeof created!.value === 'number', JSON.stringify(created));
    const id: number = created!.value;
    const [add, start] = await cloudmailing(['add_recipients', [id, [{ email: 'ann@jinja.example', ...FIELDS }]]], ['start_mailing', [id]]);
    assert.equal(add!.value[0].email, 'ann@jinja.example');
    assert.equal(start!.value, 'READY');
    const m = await received('ann@jinja.example');
    assertEveryConstruct(m, 'http://mailgate.test/u/');
    const html = String(m.html);
    assert.ok(html.includes('<p><b>bold</b> & "q"</p>'), 'not escaped without |e');
    assert.ok(html.includes('<p>&lt;b&gt;bold&lt;/b&gt; &amp; &#34;q&#34;</p>'), '|e as markupsafe writes it');
    assert.equal(html.match(/href="http:\/\/mailgate\.test\/u\/[^"]+"/g)?.length, 3, 'the url-encoded links too');
  });

  it('a template that cannot compile is refused when set, naming the field and the line, and nothing is stored', async () => {
    const before = await mailingCount();
    const [bad] = await cloudmailing(['create_mailing', ['news@jinja.example', 'Jinja', 'S', '<p>\n{% if n %}\nno end', '', 'UTF-8']]);
    assert.equal(bad!.fault?.[0], 406);
    assert.equal(bad!.fault?.[1], 'html_content: not a valid template: line 2: syntax error: unexpected end of input, expected end of block');
    const [badSubject] = await cloudmailing(['create_mailing', ['news@jinja.example', 'Jinja', 'Hi {{ name| }}', '<p>x</p>', '', 'UTF-8']]);
    assert.match(badSubject!.fault?.[1] ?? '', /^subject: not a valid template: line 1: syntax error/);
    assert.equal(await mailingCount(), before, 'nothing stored');

    const [made] = await cloudmailing(['create_mailing', ['news@jinja.example', 'Jinja', 'Good {{ name }}', '<p>ok</p>', 'ok', 'UTF-8']]);
    const id = made!.value as number;
    // set_mailing_properties answers its faults with the HTTP status of the code, as the original: ProtocolError.
    const [prop, ext, listed] = await cloudmailing(
      ['set_mailing_properties', [id, { subject: '{% for %}', charset: 'utf-8' }]],
      ['create_mailing_ext', [Buffer.from('From: a@jinja.example\nSubject: ok\nContent-Type: text/plain\n\nline one\n{{ x + }}\n').toString('base64')]],
      ['list_mailings', [{ id: [id] }]],
    );
    assert.equal(prop!.http, 406);
    assert.match(ext!.fault?.[1] ?? '', /^rfc822_string: not a valid template: line 2: syntax error/);
    assert.equal(listed!.value[0].subject, 'Good {{ name }}', 'the subject is unchanged');
    assert.equal(await mailingCount(), before + 1);
  });

  it('the known escapes are harmless: the recipient fails alone (general_error), nothing leaks, the process sends on', async () => {
    const escapes = [
      "{{ ''.__class__.__mro__ }}",
      '{{ self.__init__.__globals__ }}',
      '{{ cycler.__init__.__globals__.os }}',
      "{{ range.constructor('return process')() }}",
      "{{ ''.constructor.constructor('return process')() }}",
    ];
    const calls: [string, unknown[]][] = escapes.map((e) => ['create_mailing', ['esc@jinja.example', 'E', 'Escape', `<p>${e}</p>`, 'x', 'UTF-8']]);
    const made = await cloudmailing(...calls);
    const ids = made.map((a) => a.value as number);
    assert.ok(
      ids.every((id) => typeof id === 'number'),
      JSON.stringify(made),
    );
    await cloudmailing(
      ...ids.flatMap((id, i): [string, unknown[]][] => [
        ['add_recipients', [id, [{ email: `escape${i}@jinja.example`, user: { name: 'x' } }]]],
        ['start_mailing', [id]],
      ]),
    );
    // Refused when rendered (the recipient general_error, never sent), or rendered as nothing (MiniJinja's
    // `self` and its `cycler` function answer every attribute with an undefined value).
    const outcomes: string[] = [];
    for (let i = 0; i < escapes.length; i++) {
      const r = await recipientRow(`escape${i}@jinja.example`);
      if (r.status === 'general_error') {
        assert.match(r.reply_text ?? '', /^the message cannot be built: html part: line 1: /, escapes[i]);
        assert.equal(relay.to(`escape${i}@jinja.example`).length, 0);
        outcomes.push('refused');
      } else {
        assert.equal(r.status, 'finished', escapes[i]);
        assert.equal(withoutPixel((await received(`escape${i}@jinja.example`)).html), '<p></p>', escapes[i]);
        outcomes.push('empty');
      }
    }
    assert.deepEqual(outcomes, ['refused', 'empty', 'empty', 'refused', 'refused']);
    // The prototype walks render nothing.
    const [walk] = await cloudmailing([
      'create_mailing',
      ['esc@jinja.example', 'E', 'Walk', '<p>[{{ user.__proto__ }}|{{ user.constructor }}|{{ user.prototype }}]</p>{% if true %}{% endif %}', 'x', 'UTF-8'],
    ]);
    await cloudmailing(['add_recipients', [walk!.value, [{ email: 'walk@jinja.example', user: { name: 'x' } }]]], ['start_mailing', [walk!.value]]);
    assert.ok(String((await received('walk@jinja.example')).html).includes('<p>[||]</p>'));
  });

  it('a runaway template stops at a limit for its recipient alone (general_error); the others of the mailing get theirs', async () => {
    const html =
      '<p>{% for i in range(n) %}{% for j in range(n) %}.{% endfor %}{% endfor %}</p>' +
      "<p>{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(k) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}</p>" +
      '{% macro r(d) %}{% if d < depth %}{{ r(d + 1) }}{% else %}{{ d }}{% endif %}{% endmacro %}<p>{{ r(0) }}</p>';
    const [made] = await cloudmailing(['create_mailing', ['run@jinja.example', 'R', 'Runaway', html, 'x', 'UTF-8']]);
    const id = made!.value as number;
    const people = [
      { email: 'fine1@jinja.example', n: 2, k: 1, depth: 3 },
      { email: 'loop@jinja.example', n: 100000, k: 1, depth: 3 },
      { email: 'memory@jinja.example', n: 2, k: 40, depth: 3 },
      { email: 'deep@jinja.example', n: 2, k: 1, depth: 100000 },
      { email: 'fine2@jinja.example', n: 3, k: 2, depth: 5 },
    ];
    await cloudmailing(['add_recipients', [id, people]], ['start_mailing', [id]]);
    const expect: Record<string, RegExp> = {
      'loop@jinja.example': /ran out of fuel/,
      'memory@jinja.example': /needed more memory than a template may use/,
      'deep@jinja.example': /recursion limit exceeded/,
    };
    for (const [email, reason] of Object.entries(expect)) {
      const r = await recipientRow(email);
      assert.equal(r.status, 'general_error', email);
      assert.match(r.reply_text ?? '', reason, email);
      assert.match(r.reply_text ?? '', /^the message cannot be built: html part: /);
    }
    assert.equal(withoutPixel((await received('fine1@jinja.example')).html), '<p>....</p><p>20</p><p>3</p>');
    assert.equal(withoutPixel((await received('fine2@jinja.example')).html), '<p>.........</p><p>40</p><p>5</p>');
    assert.equal((await recipientRow('fine2@jinja.example')).status, 'finished');
  });
});

describe('templates: Yandex Sender, a transactional send with nested args', () => {
  let key: string;
  before(async () => {
    key = (await gw.core.accounts.createKey('cloud', 'sender')).secret;
    await writeFile(path.join(dir, 'quota.html'), HTML);
    await writeFile(path.join(dir, 'quota.txt'), TEXT);
  });

  const campaign = (name: string, subject: string, file: string) =>
    runProcess(
      process.execPath,
      [
        path.join(root, 'bin/mailgate.js'),
        'campaigns',
        'create',
        name,
        '--account',
        'cloud',
        '--from',
        'quota@cloud.example',
        '--subject',
        subject,
        '--html-file',
        file,
      ],
      { env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' }, timeoutMs: 60_000 },
    );

  it('renders every construct from args (objects and lists as sent), html unescaped as Jinja2 renders it', async () => {
    const made = await campaign('QUOTA', SUBJECT, path.join(dir, 'quota.html'));
    assert.equal(made.code, 0, made.stderr);
    const r = await requestsCall('POST', `${gw.url}/api/0/cloud/transactional/QUOTA/send`, {
      key,
      json: { to_email: 'ops@cloud.example', args: { ...FIELDS, firstname: 'Ops' } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const m = await received('ops@cloud.example');
    assert.equal(m.subject, 'Pro notice for ZOË');
    const html = String(m.html);
    assert.match(html, /<ul><li>c1: vCPU 9\/10<\/li><li>c2: Disks 5\/5 \(full\)<\/li><\/ul>/);
    assert.ok(html.includes('<p><b>bold</b> & "q"</p><p>&lt;b&gt;bold&lt;/b&gt; &amp; &#34;q&#34;</p><p>{{ 7*7 }}</p>'), html);
    // The text part is made from the html with its constructs kept, so it renders too.
    assert.match(m.text ?? '', /^HI Zoë\n/, 'the heading upper-cased around the expression, not the expression');
    assert.match(m.text ?? '', /c1: vCPU 9\/10/);
  });

  it('`mailgate campaigns create` refuses a template that cannot compile, naming the line; nothing is stored', async () => {
    await writeFile(path.join(dir, 'bad.html'), '<p>ok</p>\n<p>{% for q in quotas %}{{ q.name }}</p>\n');
    const before = await mailingCount();
    const r = await campaign('BROKEN', 'Fine {{ x }}', path.join(dir, 'bad.html'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a valid template: line 2: syntax error/);
    assert.equal(await mailingCount(), before);
  });
});

describe('templates: Emailicious', () => {
  it('a mailing whose variant text cannot compile is refused (400, the field), nothing stored', async () => {
    const secret = (await gw.core.accounts.createKey('shop', 'emailicious')).secret;
    const base = `${gw.url}/api/v1`;
    const list = await emailicious(base, secret, 'POST', '/lists', {
      json: { name: 'News', default_from_email: 'news@shop.example', default_language: 'fr', languages: ['fr'] },
    });
    assert.equal(list.status, 201, JSON.stringify(list.body));
    const before = await mailingCount();
    const r = await emailicious(base, secret, 'POST', '/mailings', {
      json: { list: list.body.id, name: 'Broken', variants: [{ subject: 'S', layout: { text: 'Hi\n{% if first_name %}' } }] },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /not a valid template: line 2: syntax error/);
    assert.equal(await mailingCount(), before);
  });
});
