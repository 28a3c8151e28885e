/**
 * What tracking puts into the messages, read from messages a real SMTP server on 127.0.0.1 captured:
 * - CloudMailing with a `tracking_url`, driven by Python's xmlrpc.client: subject, html and text byte for byte
 *   as the original server renders them, computed by an oracle in Python (jinja2, urllib.parse.quote,
 *   base64.urlsafe_b64encode) applying the original's rules to the same input: quoted and base64 url
 *   encoding, read and click tracking, `{{ unsubscribe }}`, quoted-printable and base64 parts, the fast path
 *   and the engine; the DKIM signature verifying after the rewrite;
 * - Mailgate's hosted tracking in every dialect, per its setting and defaults: the pixel and the links read
 *   from the message and checked with verifyOpenToken / verifyClickToken (genuine, bound to that recipient,
 *   that link and that URL);
 * - List-Id and Feedback-ID, signed by DKIM.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyClickToken, verifyOpenToken } from '../../src/core/delivery/tokens.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer, type ReceivedMessage } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { cloudmailingCalls } from '../support/python-xmlrpc.js';
import { waitFor } from '../support/wait.js';
import { dkimKey, verifyDkim } from '../support/dkim.js';
import { requestsCall } from '../sender/client.js';
import { call as emailicious, dataUri, zip } from '../emailicious/client.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let relay: TestSmtpServer;
let dir: string;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-render-'));
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

async function cloudmailing(...calls: [string, unknown[]][]): Promise<any[]> {
  const out = await cloudmailingCalls(gw.url, gw.key.secret, calls);
  for (const a of out) assert.ok(!('fault' in a) && !('http' in a), JSON.stringify(a));
  return out.map((a) => a.value);
}

/**
 * The oracle: the original server's customization rules (cloud_mailing/satellite/mail_customizer.py), written
 * afresh with jinja2 3.1: the url-encoded `{{ unsubscribe }}` forms replaced, each link of the html matched by
 * the original's pattern rewritten to `{tracking_url}c/{id}/?[c=b64&]o=...&t=...` (the href as written encoded,
 * the href as rendered encoded by a filter block around it), rendered by a plain jinja2 Template (no
 * autoescape, its last line break dropped), the pixel appended to the html; each body as Python's email
 * package stores it (`set_content`: its lines joined by line breaks, one at the end).
 */
const ORACLE = `
import base64, json, re, sys, urllib.parse
import jinja2
LINK = re.compile(r"(<a [^>]*href\\s*=\\s*['\\"])(https?://[^'\\"]*)(['\\"])")

def customize(case, body, html):
    b64 = case.get("url_encoding") == "base64"
    def encode(s):
        data = s.encode("utf-8")
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode() if b64 else urllib.parse.quote(data)
    env = jinja2.Environment()
    env.filters["url_encode"] = encode
    for form in ("%7B%7B%20unsubscribe%20%7D%7D", "%7B%7Bunsubscribe%7D%7D"):
        body = body.replace(form, "{{ unsubscribe }}")
    if html and case["click_tracking"]:
        lead = "c=b64&" if b64 else ""
        body = LINK.sub(lambda m: m[1] + "{{ _click }}?" + lead + "o={{ '" + m[2] + "'|url_encode }}&t={% filter url_encode %}" + m[2] + "{% endfilter %}" + m[3], body)
    base, tid = case["tracking_url"], case["tracking_id"]
    context = {"unsubscribe": base + "u/" + tid, "UNSUBSCRIBE": base + "u/" + tid, "_click": base + "c/" + tid + "/"}
    context.update(case["fields"])
    out = env.from_string(body).render(context)
    if html and case["read_tracking"]:
        out += '<img src="%sr/%s/blank.gif" border="0" alt="" width="1" height="1" />\\n' % (base, tid)
    return out

def stored(s):
    return (b"\\n".join(s.encode("utf-8").splitlines()) + b"\\n").decode("utf-8")

out = []
for case in json.loads(sys.stdin.read()):
    out.append({"subject": customize(case, case["subject"], False), "html": stored(customize(case, case["html"], True)), "text": stored(customize(case, case["text"], False))})
print(json.dumps(out))
`;
interface OracleCase {
  subject: string;
  html: string;
  text: string;
  fields: Record<string, unknown>;
  tracking_url: string;
  tracking_id: string;
  read_tracking: boolean;
  click_tracking: boolean;
  url_encoding?: string;
}
async function oracle(cases: OracleCase[]): Promise<{ subject: string; html: string; text: string }[]> {
  const file = path.join(dir, `oracle-${Date.now()}-${Math.random()}.json`);
  await writeFile(file, JSON.stringify(cases));
  const r = await runProcess('bash', ['-c', `python3 -c "$1" < "$2"`, 'oracle', ORACLE, file], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function received(address: string): Promise<ReceivedMessage> {
  await waitFor(`a message to ${address}`, () => relay.to(address).length > 0);
  return relay.to(address)[0]!;
}
const lf = (s: string) => s.replace(/\r\n/g, '\n');

/** A body as the original's email package stores it: its lines, one line break after the last. */
const stored = (s: string) => lf(s).replace(/\n*$/, '\n');

async function recipientId(email: string): Promise<number> {
  const { rows } = await gw.pool.query<{ id: number }>('SELECT id FROM recipients WHERE email = $1', [email]);
  assert.equal(rows.length, 1, email);
  return Number(rows[0]!.id);
}

const TRACKING_URL = 'https://track.client.example/cm/';
const FIELDS = { firstname: 'Zoë', code: 'a b&c/é', vip: true, items: ['x y', 'ß'] };

/** Links of every kind: plain, single-quoted with fields, mailto, the unsubscribe forms, in an if and a for. */
const ENGINE_HTML = [
  '<html><body>',
  '<h1>Hi {{ firstname }}</h1>',
  '<p><a href="http://shop.example/item?id=7&amp;ref=mail">Item</a>',
  `<a class="btn" href='https://shop.example/u/{{ firstname }}/pré fix?x={{ code }}'>Yours</a>`,
  '<a href="mailto:help@shop.example">Help</a> <a href="{{ unsubscribe }}">Leave</a>',
  '<a href="%7B%7B%20unsubscribe%20%7D%7D">leave</a> <a href="%7B%7Bunsubscribe%7D%7D">leave</a></p>',
  '{% if vip %}<a href="https://shop.example/vip">VIP</a>{% endif %}',
  '<ul>{% for i in items %}<li><a href="https://shop.example/p/{{ i }}">{{ i }}</a></li>{% endfor %}</ul>',
  '</body></html>',
  '',
].join('\n');
const ENGINE_TEXT = 'Hi {{ firstname }}, {% if vip %}VIP {% endif %}leave: {{ unsubscribe }}\nhttp://shop.example/plain\n';
const ENGINE_SUBJECT = 'Offer for {{ firstname|upper }} {{ UNSUBSCRIBE }}';

/** Only `{{ field }}`: the fast path. */
const FAST_HTML =
  '<p>Bonjour {{ firstname }}</p>\n<a href="https://shop.example/a?c={{ code }}">A</a> <a title="x" href="http://shop.example/b">B</a>\n<a href="{{ unsubscribe }}">désabonner</a>\n';
const FAST_TEXT = 'Bonjour {{ firstname }} {{ unsubscribe }}\n';

/** A whole message: multipart/alternative, the text part quoted-printable, the html part base64. */
function rawMessage(subject: string, text: string, html: string): string {
  const qp = (s: string) =>
    Buffer.from(s, 'utf8')
      .toString('latin1')
      .replace(/[=\u0080-\u00ff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return [
    'From: Shop <news@shop.example>',
    `Subject: =?utf-8?B?${Buffer.from(subject).toString('base64')}?=`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    qp(text),
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(html).toString('base64').replace(/.{76}/g, '$&\n'),
    '--b1--',
    '',
  ].join('\n');
}

describe('tracking: CloudMailing with a tracking_url renders as the original server', () => {
  const key = dkimKey();
  const keys = { 'cm._domainkey.shop.example': key };
  const dkim = { enabled: true, selector: 'cm', domain: 'shop.example', privkey: key.privateKey };

  async function mailing(opts: { ext?: boolean; subject: string; html: string; text: string; props: Record<string, unknown> }): Promise<number> {
    const [id] = opts.ext
      ? await cloudmailing(['create_mailing_ext', [Buffer.from(rawMessage(opts.subject, opts.text, opts.html)).toString('base64')]])
      : await cloudmailing(['create_mailing', ['news@shop.example', 'Shop', opts.subject, opts.html, opts.text, 'UTF-8']]);
    await cloudmailing(['set_mailing_properties', [id, { tracking_url: TRACKING_URL, dkim, ...opts.props }]]);
    return id as number;
  }

  const cases: { name: string; ext: boolean; subject: string; html: string; text: string; props: Record<string, unknown> }[] = [
    { name: 'engine, quoted, read and click', ext: false, subject: ENGINE_SUBJECT, html: ENGINE_HTML, text: ENGINE_TEXT, props: { click_tracking: true } },
    {
      name: 'engine, base64, read and click, base64 and quoted-printable parts',
      ext: true,
      subject: ENGINE_SUBJECT,
      html: ENGINE_HTML,
      text: ENGINE_TEXT,
      props: { click_tracking: true, url_encoding: 'base64' },
    },
    { name: 'fast path, quoted, read only (the defaults)', ext: false, subject: 'Hi {{ firstname }}', html: FAST_HTML, text: FAST_TEXT, props: {} },
    {
      name: 'fast path, base64, click only, base64 parts',
      ext: true,
      subject: 'Hi {{ firstname }}',
      html: FAST_HTML,
      text: FAST_TEXT,
      props: { read_tracking: false, click_tracking: true, url_encoding: 'base64' },
    },
    {
      name: 'fast path, quoted, click only',
      ext: false,
      subject: 'Plain',
      html: FAST_HTML,
      text: FAST_TEXT,
      props: { read_tracking: false, click_tracking: true },
    },
  ];

  for (const [n, c] of cases.entries()) {
    it(`${c.name}: subject, html and text byte for byte as the oracle; DKIM verifies`, async () => {
      const id = await mailing(c);
      const given = `cust-${n}`;
      const [added] = await cloudmailing(
        [
          'add_recipients',
          [
            id,
            [
              { email: `given${n}@cm.example`, tracking_id: given, ...FIELDS },
              { email: `made${n}@cm.example`, ...FIELDS },
            ],
          ],
        ],
        ['start_mailing', [id]],
      );
      const made = (added as { id: string }[])[1]!.id;
      for (const [email, trackingId] of [
        [`given${n}@cm.example`, given],
        [`made${n}@cm.example`, made],
      ] as const) {
        const [want] = await oracle([
          {
            subject: c.subject,
            html: c.html,
            text: c.text,
            fields: FIELDS,
            tracking_url: TRACKING_URL,
            tracking_id: trackingId,
            read_tracking: c.props.read_tracking !== false,
            click_tracking: c.props.click_tracking === true,
            ...(c.props.url_encoding ? { url_encoding: c.props.url_encoding as string } : {}),
          },
        ]);
        const msg = await received(email);
        const m = await msg.parse();
        assert.equal(m.subject, want!.subject);
        assert.equal(stored(String(m.html)), want!.html);
        assert.equal(stored(m.text ?? ''), want!.text);
        const results = await verifyDkim(msg.raw, keys);
        assert.deepEqual(
          results.map((r) => r.result),
          ['pass'],
          JSON.stringify(results),
        );
      }
    });
  }

  it('the oracle is the original: one case spelled out by hand', async () => {
    const [want] = await oracle([
      {
        subject: 'S',
        html: '<a href="http://a.example/{{ n }}?q=1">x</a>\n',
        text: '',
        fields: { n: 'é z' },
        tracking_url: 'http://t.example/',
        tracking_id: 'T1',
        read_tracking: true,
        click_tracking: true,
      },
    ]);
    assert.equal(
      want!.html,
      '<a href="http://t.example/c/T1/?o=http%3A//a.example/%7B%7B%20n%20%7D%7D%3Fq%3D1&t=http%3A//a.example/%C3%A9%20z%3Fq%3D1">x</a>' +
        '<img src="http://t.example/r/T1/blank.gif" border="0" alt="" width="1" height="1" />\n',
    );
  });
});

/** The hosted pixel's and links' tokens of an html part, checked genuine and bound to the recipient and link. */
function assertHosted(html: string, rid: number, want: { pixel: boolean; links: string[] }) {
  const secret = gw.services.secret;
  const pixels = [...html.matchAll(/<img src="http:\/\/mailgate\.test\/t\/o\/([^"]+)\.gif"/g)].map((m) => m[1]!);
  assert.equal(pixels.length, want.pixel ? 1 : 0, html);
  if (want.pixel) {
    assert.equal(verifyOpenToken(secret, pixels[0]!), rid);
    assert.equal(verifyOpenToken(secret, pixels[0]!.replace(/^\d+/, String(rid + 1))), null, 'bound to the recipient');
  }
  const links = [...html.matchAll(/href=(["'])http:\/\/mailgate\.test\/t\/c\/([^"'?]+)\?u=([^"']*)\1/g)].map((m) => ({
    token: m[2]!,
    url: decodeURIComponent(m[3]!),
  }));
  assert.deepEqual(
    links.map((l) => l.url),
    want.links,
  );
  links.forEach((l, i) => {
    assert.deepEqual(verifyClickToken(secret, l.token, l.url), { recipientId: rid, linkIndex: i });
    assert.equal(verifyClickToken(secret, l.token, `${l.url}x`), null, 'bound to the URL');
    assert.equal(verifyClickToken(secret, l.token.replace(/^\d+/, String(rid + 1)), l.url), null, 'bound to the recipient');
  });
}
const pixelBeforeBody = (html: string) => /<img src="http:\/\/mailgate\.test\/t\/o\/[^"]+\.gif"[^>]*\/><\/body>/.test(html);

describe('tracking: hosted by Mailgate, in every dialect, per the mailing setting', () => {
  const HTML =
    '<html><body><p>Hi {{ name }}</p><a href="https://shop.example/x?a=1&amp;b={{ name }}">X</a> <a href="mailto:a@shop.example">M</a> <a href="{{ unsubscribe }}">U</a> <a href=\'http://shop.example/y\'>Y</a></body></html>';
  const LINKS = (name: string) => [`https://shop.example/x?a=1&b=${name}`, 'http://shop.example/y'];

  it('cloudmailing without tracking_url: the pixel by default (read_tracking), links with click_tracking, nothing with neither', async () => {
    const [a, b, c] = await cloudmailing(
      ['create_mailing', ['news@shop.example', 'Shop', 'Hi', HTML, 'text', 'UTF-8']],
      ['create_mailing', ['news@shop.example', 'Shop', 'Hi', HTML, 'text', 'UTF-8']],
      ['create_mailing', ['news@shop.example', 'Shop', 'Hi', HTML, 'text', 'UTF-8']],
    );
    await cloudmailing(
      ['set_mailing_properties', [b, { click_tracking: true }]],
      ['set_mailing_properties', [c, { read_tracking: false }]],
      ['add_recipients', [a, [{ email: 'ha@cm.example', name: 'Ann' }]]],
      ['add_recipients', [b, [{ email: 'hb@cm.example', name: 'Bob' }]]],
      ['add_recipients', [c, [{ email: 'hc@cm.example', name: 'Cid' }]]],
      ['start_mailing', [a]],
      ['start_mailing', [b]],
      ['start_mailing', [c]],
    );
    const ha = String((await (await received('ha@cm.example')).parse()).html);
    assertHosted(ha, await recipientId('ha@cm.example'), { pixel: true, links: [] });
    assert.ok(pixelBeforeBody(ha), ha);
    assert.ok(ha.includes('<a href="https://shop.example/x?a=1&amp;b=Ann">X</a>'), 'links as written');
    const hb = String((await (await received('hb@cm.example')).parse()).html);
    assertHosted(hb, await recipientId('hb@cm.example'), { pixel: true, links: LINKS('Bob') });
    assert.match(hb, /<a href="mailto:a@shop\.example">M<\/a> <a href="http:\/\/mailgate\.test\/u\/[^"]+">U<\/a>/, 'mailto and unsubscribe untouched');
    const hc = String((await (await received('hc@cm.example')).parse()).html);
    assert.equal(
      hc,
      HTML.replace('{{ name }}', 'Cid')
        .replace('{{ name }}', 'Cid')
        .replace(/\{\{ unsubscribe \}\}/, hc.match(/http:\/\/mailgate\.test\/u\/[^"]+/)![0]),
    );
  });

  it('mailkit: pixel and links by default, in the campaign html and in a sendmail message_data of its own', async () => {
    const MAILKIT = `
import base64, json, sys, requests
url, cid, md5, html, own = sys.argv[1] + "/json.fcgi", sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
b64 = lambda s: base64.b64encode(s.encode()).decode()
def call(function, parameters=None):
    body = {"function": function, "id": cid, "md5": md5}
    if parameters is not None: body["parameters"] = parameters
    return requests.post(url, json=body).json()
sender = call("mailkit.profile.emails.list")["emails"][0]["ID_ALLOW_EMAIL"]
campaign = call("mailkit.campaigns.create", {"name": b64("Spring sale"), "subject": b64("Sale"), "ID_allow_email": b64(str(sender)), "content": b64(html)})["ID_message"]
a = call("mailkit.sendmail", {"campaign_id": str(campaign), "main": {"send_to": "mk1@mk.example"}})
b = call("mailkit.sendmail", {"campaign_id": str(campaign), "main": {"send_to": "mk2@mk.example", "message_data": b64(own)}})
print(json.dumps({"campaign": campaign, "a": a, "b": b}))
`;
    const own = '<p>Own</p><a href="https://own.example/z?q=1&amp;r=2">Z</a>';
    const r = await runProcess('python3', ['-c', MAILKIT, gw.url, String(gw.key.id), gw.key.secret, HTML.replace(/\{\{ name \}\}/g, '[% name %]'), own], {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.a.error_status, 0, r.stdout);
    const mk1 = String((await (await received('mk1@mk.example')).parse()).html);
    assertHosted(mk1, await recipientId('mk1@mk.example'), { pixel: true, links: ['https://shop.example/x?a=1&b=[% name %]', 'http://shop.example/y'] });
    assert.ok(pixelBeforeBody(mk1), mk1);
    const mk2msg = await received('mk2@mk.example');
    const mk2 = String((await mk2msg.parse()).html);
    assertHosted(mk2, await recipientId('mk2@mk.example'), { pixel: true, links: ['https://own.example/z?q=1&r=2'] });
    assert.match(mk2, /^<p>Own<\/p><a href="http:\/\/mailgate\.test\/t\/c\/[^"]+">Z<\/a><img /, 'no </body>: the pixel at the end');
    assert.equal(mk2msg.header('List-Id'), `"Spring sale" <spring-sale.${out.campaign}.bounces.mailgate.test>`);
  });

  it('emailicious: pixel and links by default in a list mailing; List-Id names the list', async () => {
    const api = (method: string, p: string, json?: unknown) => emailicious(gw.url, gw.key.secret, method, `/api/v1${p}`, json === undefined ? {} : { json });
    const list = (await api('POST', '/lists', { name: 'Clients fidèles', default_from_email: 'news@shop.example' })).body.id as number;
    await api('POST', `/lists/${list}/subscribers`, { email: 'em@em.example', name: 'Eve' });
    const archive = await zip({ 'index.html': HTML });
    const r = await api('POST', '/mailings', {
      list,
      name: 'Spring',
      variants: [{ subject: 'Hi', layout: { zip_file: dataUri(archive) }, deliveries: [{ scheduled_datetime: null }] }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const msg = await received('em@em.example');
    const html = String((await msg.parse()).html);
    assertHosted(html, await recipientId('em@em.example'), { pixel: true, links: LINKS('Eve') });
    assert.equal(msg.header('List-Id'), `=?UTF-8?Q?Clients_fid=C3=A8les?= <clients-fideles.${list}.bounces.mailgate.test>`);
    const { rows } = await gw.pool.query<{ id: number; send_id: number }>('SELECT mailing_id AS id, send_id FROM recipients WHERE email = $1', [
      'em@em.example',
    ]);
    assert.equal(msg.header('Feedback-ID'), `m${rows[0]!.id}:s${rows[0]!.send_id}:acme:mailgate`);
  });

  it('yandex sender: a transactional send gets pixel and links by default', async () => {
    const file = path.join(dir, 'sender.html');
    await writeFile(file, HTML);
    const made = await runProcess(
      process.execPath,
      [
        path.join(root, 'bin/mailgate.js'),
        'campaigns',
        'create',
        'WELCOME',
        '--account',
        'acme',
        '--from',
        'hi@shop.example',
        '--subject',
        'Hi',
        '--html-file',
        file,
      ],
      { env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' }, timeoutMs: 60_000 },
    );
    assert.equal(made.code, 0, made.stderr);
    const r = await requestsCall('POST', `${gw.url}/api/0/acme/transactional/WELCOME/send`, {
      key: gw.key.secret,
      json: { to_email: 'ya@ya.example', args: { name: 'Yan' } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const msg = await received('ya@ya.example');
    assertHosted(String((await msg.parse()).html), await recipientId('ya@ya.example'), { pixel: true, links: LINKS('Yan') });
    const { rows } = await gw.pool.query<{ id: number }>("SELECT id FROM mailings WHERE name = 'WELCOME'");
    assert.equal(msg.header('List-Id'), `"WELCOME" <welcome.${rows[0]!.id}.bounces.mailgate.test>`);
  });
});

describe('tracking: List-Id and Feedback-ID', () => {
  it('a CloudMailing mailing (no name): List-Id by its id, Feedback-ID with mailing, send and account; both signed by DKIM', async () => {
    const key = dkimKey();
    const [id] = await cloudmailing(['create_mailing', ['news@shop.example', 'Shop', 'Hi', '<p>x</p>', 'x', 'UTF-8']]);
    await cloudmailing(
      ['set_mailing_properties', [id, { dkim: { enabled: true, selector: 'h', domain: 'shop.example', privkey: key.privateKey } }]],
      ['add_recipients', [id, [{ email: 'hdr@cm.example' }]]],
      ['start_mailing', [id]],
    );
    const msg = await received('hdr@cm.example');
    assert.equal(msg.header('List-Id'), `<mailing.${id}.bounces.mailgate.test>`);
    const { rows } = await gw.pool.query<{ send_id: number }>('SELECT send_id FROM recipients WHERE email = $1', ['hdr@cm.example']);
    assert.equal(msg.header('Feedback-ID'), `m${id}:s${rows[0]!.send_id}:acme:mailgate`);
    const results = await verifyDkim(msg.raw, { 'h._domainkey.shop.example': key });
    assert.equal(results[0]?.result, 'pass');
    const signature = msg.header('DKIM-Signature')!.replace(/\s+/g, '');
    const signed = /(?:^|;)h=([^;]+)/.exec(signature)![1]!.toLowerCase().split(':');
    assert.ok(signed.includes('list-id') && signed.includes('feedback-id'), signature);
    assert.match(msg.header('List-Unsubscribe') ?? '', /^<http:\/\/mailgate\.test\/u\//, 'beside List-Unsubscribe');
  });
});
