/**
 * A default install, as a new user has it: the built `mailgate serve` with an empty environment but PATH, HOME,
 * a fresh DATA_DIR and free ports (so no PUBLIC_URL, BOUNCE_DOMAIN or SMTP_URL: the gateway is
 * http://localhost:PORT, every message goes to the capture). On it:
 * - double opt-in in each dialect that has it, as its real clients call it (Sender's `subscription/request` with
 *   Python `requests`, Mailkit's `adduser` with confirm as both PHP clients send it, Emailicious' `activate`
 *   with `confirm` as its PHP client 1.0.0 does): the confirmation read from the capture at /admin/outbox and
 *   parsed by a real MIME parser, its link followed with Python's urllib, the subscriber then active;
 * - the README's examples, read from README.md and run exactly as printed (bash for `sh` blocks, python3 for
 *   `python` ones, from the checkout, as the README says), substituting only what it tells its reader to:
 *   `localhost:33610`, `SECRET` and `KEY_ID`;
 * - the banner: every dialect's URL, and on a later start how to make a key.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort } from '../../src/db/embedded.js';
import { runProcess } from '../support/process.js';
import { cloudmailingCalls } from '../support/python-xmlrpc.js';
import { waitFor } from '../support/wait.js';
import { php, phpForm } from '../emailicious/client.js';
import { requestsCall } from '../sender/client.js';

const root = path.resolve(import.meta.dirname, '../..');
/** The built-in sender on a host without a domain (src/core/subscriptions/sender.ts). */
const BUILT_IN_SENDER = 'noreply@localhost.localdomain';

let dataDir: string;
let port: number;
let base: string;
let key: { id: number; secret: string };

/** The environment of a default install: nothing but what a shell has, a data directory and free ports. */
function env(): Record<string, string> {
  return { PATH: process.env.PATH!, HOME: process.env.HOME ?? os.homedir(), DATA_DIR: dataDir, PORT: String(port), BOUNCE_SMTP_PORT: '0' };
}

interface Server {
  child: ChildProcess;
  banner: string;
  exited: Promise<number | null>;
}
let server: Server | undefined;

/** `mailgate serve` as `npm start` runs it, once its banner is out (its last line says how to get a key). */
async function serve(): Promise<Server> {
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve'], { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  await waitFor(
    'the banner',
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}\n${err}`);
      return /more keys: |API keys: /.test(out);
    },
    90_000,
  );
  return { child, banner: out, exited };
}

async function stop(s: Server): Promise<number | null> {
  s.child.kill('SIGTERM');
  return await s.exited;
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-default-'));
  port = await freePort();
  base = `http://localhost:${port}`;
  server = await serve();
  const m = /First API key, shown once \(account "default", key id (\d+)\):\n {2}(\S+)/.exec(server.banner);
  assert.ok(m, `no first key in:\n${server.banner}`);
  key = { id: Number(m[1]), secret: m[2]! };
});

describe('default install: the admin pages', () => {
  it('the first operator printed once logs in to /admin', async () => {
    const m = /First operator of the admin pages, shown once: login "(\S+)", password:\n {2}(\S+)/.exec(server!.banner);
    assert.ok(m, `no operator in:\n${server!.banner}`);
    const form = await fetch(`${base}/admin/login`);
    const token = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const loginCookie = form.headers
      .getSetCookie()
      .find((c) => c.startsWith('mailgate_login='))!
      .split(';')[0]!;
    const login = await fetch(`${base}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: token, next: '/admin/accounts', login: m[1]!, password: m[2]! }).toString(),
    });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/admin/accounts');
    const session = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('mailgate_admin='))!
      .split(';')[0]!;
    const accounts = await fetch(`${base}/admin/accounts`, { headers: { cookie: session }, redirect: 'manual' });
    assert.equal(accounts.status, 200);
    assert.match(await accounts.text(), /<td>default<\/td>/);
  });
});

after(async () => {
  if (server) await stop(server);
  await rm(dataDir, { recursive: true, force: true });
});

// --- the capture, the link -------------------------------------------------------------------------------

const outboxAuth = () => ({ authorization: `Basic ${Buffer.from(`any:${key.secret}`).toString('base64')}` });
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The captured messages to an address whose subject starts so, read through /admin/outbox, parsed. */
async function captured(address: string, subject: string, count = 1): Promise<ParsedMail[]> {
  const row = new RegExp(
    // Columns: #, received, account, to, subject.
    `<a href="/admin/outbox/(\\d+)">\\d+</a></td>\\s*<td>[^<]*</td>\\s*<td>[^<]*</td>\\s*<td>${escapeRe(address)}</td>\\s*<td>${escapeRe(subject)}`,
    'g',
  );
  let ids: string[] = [];
  await waitFor(`${count} message(s) "${subject}" to ${address} in the outbox`, async () => {
    const page = await fetch(`${base}/admin/outbox`, { headers: outboxAuth() });
    assert.equal(page.status, 200);
    ids = [...(await page.text()).matchAll(row)].map((m) => m[1]!);
    return ids.length >= count;
  });
  assert.equal(ids.length, count, `exactly ${count} message(s) "${subject}" to ${address}`);
  return await Promise.all(
    ids.map(async (id) => {
      const raw = await fetch(`${base}/admin/outbox/${id}/raw`, { headers: outboxAuth() });
      assert.equal(raw.status, 200);
      return await simpleParser(Buffer.from(await raw.arrayBuffer()));
    }),
  );
}

/** The confirmation to an address: from the built-in sender, its link in the html and in the text. */
async function confirmationLink(address: string, listTitle: string): Promise<string> {
  const [msg] = await captured(address, 'Please confirm your subscription');
  assert.equal(msg!.subject, `Please confirm your subscription to ${listTitle}`);
  assert.equal(msg!.from?.value[0]?.address, BUILT_IN_SENDER);
  const link = new RegExp(`href="(${escapeRe(base)}/subscribe/confirm/[^"]+)"`).exec(String(msg!.html))?.[1];
  assert.ok(link, `a confirmation link to ${base} in ${String(msg!.html)}`);
  assert.ok(String(msg!.text).includes(link), 'the text part carries the link too');
  return link;
}

/** The link followed as a mail client opens it: Python's urllib, the URL as it is in the message. */
async function follow(link: string): Promise<{ status: number; body: string }> {
  const script = `
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1])
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
`;
  const r = await runProcess('python3', ['-c', script, link], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const [status, ...body] = r.stdout.split('\n');
  return { status: Number(status), body: body.join('\n') };
}

async function confirm(address: string, listTitle: string): Promise<void> {
  const r = await follow(await confirmationLink(address, listTitle));
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /Subscription confirmed/);
  assert.ok(r.body.includes(address));
}

// --- the clients -----------------------------------------------------------------------------------------

/** Sender: Python `requests`, Basic `key:`, as Yandex's clients call it. */
const sender = (method: string, p: string, opts: { data?: unknown; json?: unknown; params?: unknown } = {}) =>
  requestsCall(method, `${base}/api/0/default${p}`, { ...opts, key: key.secret });

/**
 * Mailkit's PHP clients, both encodings, as they build their requests: XML-RPC as igloonet's XmlAdapter sends it
 * (client_id a string, then the parameters positionally: list id, "TRUE"/"FALSE", the sections with their
 * values base64-encoded, an empty section a struct with one member '' => null), JSON as the official client's
 * JsonAdapter does (the parameters by name, `confirm` "TRUE", an empty section PHP's empty array `[]`;
 * getstatus by `email_id`).
 */
const MAILKIT_PHP = `
import base64, json, sys, urllib.request, xmlrpc.client
url, cid, md5, enc, fn, params = sys.argv[1:7]
params = json.loads(params)
b64 = lambda v: {k: base64.b64encode(x.encode()).decode() for k, x in v.items()}
if enc == "xml":
    proxy = xmlrpc.client.ServerProxy(url + "/rpc.fcgi", allow_none=True)
    if fn == "mailkit.mailinglist.adduser":
        params = [params[0], params[1]] + [b64(s) if s else {"": None} for s in params[2:]]
    print(json.dumps(getattr(proxy, fn)(cid, md5, *params)))
else:
    if fn == "mailkit.mailinglist.adduser":
        params = {"ID_user_list": params[0], "confirm": params[1], "personal": b64(params[2]), "address": [], "custom": []}
    elif fn == "mailkit.email.getstatus":
        params = {"email_id": params[0]}
    body = json.dumps({"function": fn, "id": cid, "md5": md5, "parameters": params}).encode()
    req = urllib.request.Request(url + "/json.fcgi", data=body, headers={"Content-Type": "application/json"})
    print(urllib.request.urlopen(req).read().decode())
`;

async function mailkit(encoding: 'xml' | 'json', fn: string, params: unknown): Promise<unknown> {
  const r = await runProcess('python3', ['-c', MAILKIT_PHP, base, String(key.id), key.secret, encoding, fn, JSON.stringify(params)], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Emailicious: the PHP client 1.0.0's requests (its form bodies and headers). */
const emailicious = (method: string, p: string, form?: Record<string, unknown>) =>
  php(base, key.secret, method, `/api/v1${p}`, form ? { type: 'application/x-www-form-urlencoded', body: phpForm(form) } : undefined);

describe('e2e: double opt-in on a default install (no configuration at all)', () => {
  it('Sender subscription/request (Python requests): the confirmation is captured, its link activates the subscriber', async () => {
    assert.equal((await sender('PUT', '/maillist/spring', { data: { title: 'Spring news' } })).status, 201);
    const r = await sender('POST', '/maillist/spring/subscription/request', {
      data: { to_email: 'sara@example.org', params: JSON.stringify({ name: 'Sara' }), args: JSON.stringify({ campaign: 'spring' }) },
    });
    assert.deepEqual([r.status, r.body], [200, { params: { email: 'sara@example.org', params: '{"name":"Sara"}' }, result: { status: 'OK' } }]);
    const subscriber = async () => (await sender('GET', '/maillist/spring/content')).body.result.find((s: { email: string }) => s.email === 'sara@example.org');
    assert.deepEqual([(await subscriber())._enabled, (await subscriber())._status], [false, 'unconfirmed']);
    await confirm('sara@example.org', 'Spring news');
    assert.deepEqual([(await subscriber())._enabled, (await subscriber())._status], [true, '']);
  });

  for (const encoding of ['xml', 'json'] as const) {
    it(`Mailkit adduser with confirm, ${encoding === 'xml' ? "igloonet's XML-RPC" : "the official client's JSON"}: "Sent subscribe email", the link activates`, async () => {
      const created = (await mailkit(encoding, 'mailkit.mailinglist.create', encoding === 'xml' ? [`Club ${encoding}`, ''] : { name: `Club ${encoding}` })) as {
        data: number | string;
      };
      const listId = Number(created.data);
      assert.ok(listId > 0, JSON.stringify(created));
      const email = `milan.${encoding}@example.org`;
      const reply = await mailkit(encoding, 'mailkit.mailinglist.adduser', [listId, 'TRUE', { email, first_name: 'Milan' }, {}, {}]);
      assert.deepEqual(reply, encoding === 'xml' ? 'Sent subscribe email' : { error: 'Sent subscribe email', error_status: 0 });
      const status = async () => ((await mailkit(encoding, 'mailkit.email.getstatus', [email])) as { STATUS: string }[])[0]!.STATUS;
      assert.equal(await status(), 'disabled');
      await confirm(email, `Club ${encoding}`);
      assert.equal(await status(), 'enabled');
    });
  }

  it('Emailicious activate with confirm (PHP client 1.0.0): pending, the confirmation is captured, its link activates', async () => {
    const list = await emailicious('POST', '/lists', { name: 'Lettre', default_from_email: 'lettre@example.org' });
    assert.equal(list.status, 201, JSON.stringify(list.body));
    const sub = await emailicious('POST', `/lists/${list.body.id}/subscribers`, { email: 'noe@example.org', first_name: 'Noé' });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    const pending = await emailicious('POST', `/lists/${list.body.id}/subscribers/${sub.body.id}/activate`, { confirm: true });
    assert.deepEqual([pending.status, pending.body], [200, { status: 'pending' }]);
    await confirm('noe@example.org', 'Lettre');
    const active = await emailicious('GET', `/lists/${list.body.id}/subscribers/${sub.body.id}`);
    assert.equal(active.body.subscription, 'active');
  });

  it('CloudMailing hosted tracking with no configuration: the captured message’s pixel and link answer, list_mailings counts them', async () => {
    const target = 'https://shop.example.org/sale?a=1&b=2';
    const html = `<html><body><p>Hi</p><a href="${target.replace('&', '&amp;')}">Sale</a></body></html>`;
    const [made] = await cloudmailingCalls(base, key.secret, [['create_mailing', ['news@example.org', 'News', 'Tracked', html, 'Hi', 'UTF-8']]]);
    const id = made!.value as number;
    const answers = await cloudmailingCalls(base, key.secret, [
      ['set_mailing_properties', [id, { click_tracking: true }]],
      ['add_recipients', [id, [{ email: 'reader@example.org' }]]],
      ['start_mailing', [id]],
    ]);
    for (const a of answers) assert.ok(!('fault' in a), JSON.stringify(a));
    const [msg] = await captured('reader@example.org', 'Tracked');
    const unescape = (u: string) => u.replace(/&amp;/g, '&');
    const pixel = unescape(new RegExp(`<img src="(${escapeRe(base)}/t/o/[^"]+)"`).exec(String(msg!.html))?.[1] ?? '');
    const link = unescape(new RegExp(`<a href="(${escapeRe(base)}/t/c/[^"]+)"`).exec(String(msg!.html))?.[1] ?? '');
    assert.ok(pixel && link, `hosted pixel and link under ${base} in ${String(msg!.html)}`);
    const gif = await fetch(pixel);
    assert.deepEqual([gif.status, gif.headers.get('content-type')], [200, 'image/gif']);
    const click = await fetch(link, { redirect: 'manual' });
    assert.deepEqual([click.status, click.headers.get('location')], [302, target]);
    // Within seconds of its delivery both are judged a machine's (too-soon); each is counted once either way.
    await waitFor('the open and the click counted', async () => {
      const [m] = (await cloudmailingCalls(base, key.secret, [['list_mailings', [{ id: [id] }]]]))[0]!.value as Record<string, number>[];
      const n = (k: string) => m?.[k] ?? NaN;
      return n('total_opens') + n('total_machine_opens') === 1 && n('total_clicks') + n('total_machine_clicks') === 1;
    });
  });

  it('a refused request changes nothing and names no internal field', async () => {
    const bad = await sender('POST', '/maillist/spring/subscription/request', { data: { to_email: 'not an address' } });
    assert.deepEqual([bad.status, bad.body], [400, { result: { status: 'ERROR', error: { detail: 'Wrong email format' } } }]);
    const unknown = await mailkit('json', 'mailkit.mailinglist.adduser', [999_999, 'TRUE', { email: 'nobody@example.org' }, {}, {}]);
    assert.deepEqual(unknown, { error_status: 1, error: 'Invalid ID_mailing_list' });
    const content = (await sender('GET', '/maillist/spring/content')).body.result as { email: string }[];
    assert.deepEqual(
      content.map((s) => s.email),
      ['sara@example.org'],
    );
  });
});

// --- the README ------------------------------------------------------------------------------------------

interface Example {
  lang: 'sh' | 'python';
  code: string;
}

/** The fenced `sh` and `python` blocks of the README's "Using it" section, in order. */
async function readmeExamples(): Promise<{ examples: Example[]; readme: string }> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Using it\n');
  assert.ok(start >= 0, 'the README has a "Using it" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const examples = [...section.matchAll(/^```(sh|python)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] as Example['lang'], code: m[2]! }));
  return { examples, readme };
}

/** What the README tells its reader to replace, replaced. */
const asTheReaderTypesIt = (code: string) =>
  code.replaceAll('localhost:33610', `localhost:${port}`).replaceAll('SECRET', key.secret).replaceAll('KEY_ID', String(key.id));

/** An answer that reports a failure in an HTTP 200 (Mailkit's JSON, JSON-RPC, Sender): the example did not succeed. */
const FAILURE_IN_A_200 = [/"error_status":\s*1/, /"jsonrpc":\s*"2\.0"[^\n]*"error":\s*\{/, /"status":\s*"ERROR"/];

describe("e2e: the README's examples, run as printed", () => {
  it('every sh and python block of "Using it" succeeds', async (t) => {
    const { examples } = await readmeExamples();
    assert.deepEqual(
      examples.map((e) => e.lang),
      ['python', 'sh', 'python', 'sh', 'sh', 'sh'],
      'the examples this test knows (CloudMailing, JSON-RPC, Mailkit XML-RPC and JSON, Sender, Emailicious)',
    );
    for (const [i, e] of examples.entries()) {
      const code = asTheReaderTypesIt(e.code);
      // From the checkout (the files under examples/, `npx mailgate`), in the shell the README's reader has.
      const r = e.lang === 'sh' ? await runProcessIn(root, 'bash', ['-e', '-o', 'pipefail', '-c', code]) : await runProcessIn(root, 'python3', ['-c', code]);
      t.diagnostic(`example ${i + 1} (${e.lang}): exit ${r.code}`);
      assert.equal(r.code, 0, `example ${i + 1} failed:\n${e.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
      for (const failure of FAILURE_IN_A_200) assert.doesNotMatch(r.stdout, failure, `example ${i + 1} answered an error:\n${r.stdout}`);
    }
  });

  it('what they sent is in the capture: the mailing, the double opt-in, the transactional send, the newsletter', async () => {
    assert.equal((await captured('john.doe@example.org', 'Hello John'))[0]!.subject, 'Hello John');
    assert.match(String((await captured('bob@example.org', 'Please confirm your subscription to News'))[0]!.html), /\/subscribe\/confirm\//);
    assert.match(String((await captured('ann@example.org', 'Order 42'))[0]!.html), /your order <b>42<\/b>/);
    const [newsletter] = await captured('ann@example.org', 'Hello World!');
    assert.match(String(newsletter!.html), new RegExp(`<img src="${escapeRe(base)}/layouts/[\\w-]+/images/planet\\.png"`));
  });

  it("the banner shows every dialect's URL as the README does; a later start says how to make a key", async () => {
    const { readme } = await readmeExamples();
    const block = /```\n(Mailgate is listening on [\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, "the README shows the first start's banner");
    const urls = block.split('\n').filter((l) => l.includes('http://localhost:33610'));
    assert.ok(urls.length >= 9, 'every dialect, the health check and the outbox');
    for (const line of urls)
      assert.ok(server!.banner.includes(line.replaceAll('localhost:33610', `localhost:${port}`)), `the banner has: ${line}\n${server!.banner}`);

    assert.equal(await stop(server!), 0);
    server = await serve();
    assert.doesNotMatch(server.banner, /First API key/);
    assert.match(server.banner, /^API keys: npx mailgate keys create --account default /m);
    assert.ok(server.banner.includes(`Yandex Sender REST          http://localhost:${port}/api/0/default/`));
  });
});

function runProcessIn(cwd: string, cmd: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
