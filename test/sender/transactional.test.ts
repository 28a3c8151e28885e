/**
 * Sender's transactional send, the endpoint real integrations call most: the page's two curl examples (JSON
 * from a file, and form) over real HTTP, every copy received by a real SMTP server on loopback, the status
 * call with the page's raw `<message_id>`, errors, and a transactional message delivered while a
 * 50,000-recipient mailing is being sent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { curl, type Reply } from './client.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let relay: TestSmtpServer;
let key: string;
let dir: string;

/** The page's JSON example body (transact_data.json), as printed there. */
const PAGE_JSON = {
  from_name: 'Bob',
  from_email: 'bob@example.com',
  cc: [
    { email: 'mary@example.com', name: 'Mary' },
    { email: 'john@example.com', name: 'John' },
  ],
  bcc: [
    { email: 'tom@example.com', name: 'Tom' },
    { email: 'jan@example.com', name: 'Jan' },
  ],
  to: [
    { email: 'alice@example.com', name: 'Alice' },
    { email: 'bob@example.com', name: 'Bob' },
  ],
  attachments: [{ data: '', mime_type: 'application/text', filename: 'a.txt' }],
  args: { var: 'val' },
  headers: { one: '1', two: '2', three: '3' },
  async: true,
};

const curlArgs = (args: string) => curl(`curl ${args}`);

const url = (p: string) => `'${gw.url}/api/0/autoru/transactional/${p}'`;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, SEND_BATCH_SIZE: '100' } });
  key = (await gw.core.accounts.createKey('autoru', 'page')).secret;
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-transactional-'));
  await writeFile(path.join(dir, 'body.html'), '<p>Hello {{ var }}{{ var1 }}</p>');
  // The campaign, made as an operator makes it.
  const made = await runProcess(
    process.execPath,
    [
      path.join(root, 'bin/mailgate.js'),
      'campaigns',
      'create',
      'STIYWPX1-LUX',
      '--account',
      'autoru',
      '--from',
      'shop@autoru.example',
      '--subject',
      'Order {{ var }}{{ var1 }}',
      '--html-file',
      path.join(dir, 'body.html'),
    ],
    { env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' }, timeoutMs: 60_000 },
  );
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /campaign STIYWPX1-LUX: mailing \d+/);
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("sender: transactional send, as the page's examples and real clients call it", () => {
  // The page's JSON example, sent once before the tests: the first judges its answer and copies, the status
  // test asks for it by its Message-ID.
  const everyone = ['alice', 'bob', 'mary', 'john', 'tom', 'jan'].map((n) => `${n}@example.com`);
  let json: Reply;
  let jsonMessageId = '';
  before(async () => {
    await writeFile(path.join(dir, 'transact_data.json'), JSON.stringify(PAGE_JSON));
    json = await curlArgs(`-X POST -u ${key}: -H "content-type: application/json" -d @${path.join(dir, 'transact_data.json')} ${url('STIYWPX1-LUX/send')}`);
    jsonMessageId = json.body?.result?.message_id ?? '';
    if (json.status === 200) await waitFor('every copy', () => everyone.every((a) => relay.to(a).length === 1));
  });

  it('the JSON example: one message to to, cc and bcc, with its From, headers and attachment; the echo as the page prints it', async () => {
    const r = json;
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.params, {
      source: {
        cc: PAGE_JSON.cc,
        to: PAGE_JSON.to,
        args: { var: 'val' },
        attachments: [{ filename: 'a.txt', mime_type: 'application/text', data: '<binary data>' }],
        bcc: PAGE_JSON.bcc,
        headers: { three: '3', two: '2', one: '1' },
      },
      control: { for_testing: false, async: true, expires: 86400, countdown: null },
    });
    assert.equal(r.body.result.status, 'OK');
    assert.match(r.body.result.task_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(r.body.result.message_id, /^<[^<>@\s]+@[^<>@\s]+>$/);

    assert.ok(
      everyone.every((a) => relay.to(a).length === 1),
      'every copy, once',
    );
    for (const a of everyone) {
      const m = relay.to(a)[0]!;
      assert.deepEqual(m.to, [a], 'one envelope recipient per copy');
      assert.equal(m.header('message-id'), jsonMessageId, 'one Message-ID for the message');
      assert.match(m.header('to') ?? '', /^"?Alice"? <alice@example\.com>, "?Bob"? <bob@example\.com>$/);
      assert.match(m.header('cc') ?? '', /^"?Mary"? <mary@example\.com>, "?John"? <john@example\.com>$/);
      assert.equal(m.header('bcc'), undefined);
      assert.match(m.header('from') ?? '', /^"?Bob"? <bob@example\.com>$/);
      assert.deepEqual([m.header('one'), m.header('two'), m.header('three')], ['1', '2', '3']);
      const parsed = await m.parse();
      assert.equal(parsed.subject, 'Order val');
      assert.match(String(parsed.html), /Hello val/);
      assert.deepEqual(
        parsed.attachments.map((x) => [x.filename, x.size]),
        [['a.txt', 0]],
      );
    }
  });

  it('the form example: to_email, args as a string (echoed as a string), the attachment parsed; From overridden', async () => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
    const r = await curlArgs(
      `-X POST -u ${key}: -d args='{"var1":"value1"}' -d async=true -d attachments='[{"filename": "a.jpg", "mime_type": "image/jpeg", "data": "${png}"}]' -d from_name='Ivan' -d from_email='devnull@yandex.ru' -d to_email=alice@example.com ${url('STIYWPX1-LUX/send')}`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.params, {
      control: { expires: 86400, for_testing: false, async: true, countdown: null },
      source: {
        to: [],
        args: '{"var1":"value1"}',
        attachments: [{ mime_type: 'image/jpeg', data: '<binary data>', filename: 'a.jpg' }],
        bcc: [],
        to_email: 'alice@example.com',
        cc: [],
      },
    });
    await waitFor('alice has the second message', () => relay.to('alice@example.com').length === 2);
    const m = relay.to('alice@example.com')[1]!;
    assert.match(m.header('from') ?? '', /^"?Ivan"? <devnull@yandex\.ru>$/);
    assert.equal(m.header('to'), 'alice@example.com');
    assert.equal((await m.parse()).subject, 'Order value1');
    assert.equal(m.header('message-id'), r.body.result.message_id);
  });

  it("status: the page's GET with the raw <message_id>, POST with a form, an unknown id (code 404 in an HTTP 200)", async () => {
    await waitFor(
      'sent',
      async () =>
        (await gw.core.transactional.status({ accountId: (await gw.core.accounts.authenticate(key))!.accountId, requestId: 't' }, jsonMessageId))?.status ===
        'finished',
    );
    const raw = await curlArgs(`-X GET -u ${key}: ${url(`STIYWPX1-LUX/status?message_id=${jsonMessageId}`)}`);
    assert.equal(raw.status, 200);
    assert.deepEqual(raw.body, { msg: raw.body.msg, code: 250, message_id: jsonMessageId, retry: false });
    const post = await curlArgs(`-X POST -u ${key}: --data-urlencode 'message_id=${jsonMessageId}' ${url('STIYWPX1-LUX/status')}`);
    assert.equal(post.body.code, 250);
    const unknown = await curlArgs(`-X GET -u ${key}: ${url('STIYWPX1-LUX/status?message_id=%3Cr999999.m1%40x%3E')}`);
    assert.deepEqual([unknown.status, unknown.body.code, unknown.body.retry], [200, 404, false]);
  });

  it('no address: 400, or 202 with ignore_empty_email; unknown campaign 404; malformed args 400; another account 403', async () => {
    const none = await curlArgs(`-X POST -u ${key}: -d args='{}' ${url('STIYWPX1-LUX/send')}`);
    assert.equal(none.status, 400);
    assert.deepEqual(none.body, {
      result: { status: 'ERROR', error: { non_field_errors: ['to_email or valid to_yandex_puid argument required: no to_email'] } },
    });
    const ignored = await curlArgs(`-X POST -u ${key}: -d ignore_empty_email=True -d to_yandex_puid=1234 ${url('STIYWPX1-LUX/send')}`);
    assert.equal(ignored.status, 202);
    const noCampaign = await curlArgs(`-X POST -u ${key}: -d to_email=x@example.com ${url('NO-SUCH/send')}`);
    assert.deepEqual([noCampaign.status, noCampaign.body], [404, { result: { status: 'ERROR', error: { detail: 'Campaign not found' } } }]);
    const badArgs = await curlArgs(`-X POST -u ${key}: -d to_email=x@example.com -d args='{"var": ' ${url('STIYWPX1-LUX/send')}`);
    assert.deepEqual([badArgs.status, badArgs.body], [400, { result: { status: 'ERROR', error: { args: ['Value must be valid JSON.'] } } }]);
    const badTo = await curlArgs(`-X POST -u ${key}: -d to_email=not-an-address ${url('STIYWPX1-LUX/send')}`);
    assert.equal(badTo.status, 400);
    const other = await curlArgs(`-X POST -u ${gw.key.secret}: -d to_email=x@example.com ${url('STIYWPX1-LUX/send')}`);
    assert.equal(other.status, 403);
    assert.equal(relay.to('x@example.com').length, 0);
  });

  it("a fresh campaign's first messages, sent at once, make it a standing send once and are all delivered", async () => {
    const c = { accountId: (await gw.core.accounts.authenticate(key))!.accountId, requestId: 't' };
    const id = await gw.core.mailings.create(c, {
      dialect: 'sender',
      name: 'burst',
      fromEmail: 'shop@autoru.example',
      subject: 'Burst {{ n }}',
      html: '<p>{{ n }}</p>',
    });
    const rev0 = (await gw.pool.query<{ rev: number }>('SELECT rev FROM mailings WHERE id = $1', [id])).rows[0]!.rev;
    const n = 24;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        fetch(`${gw.url}/api/0/autoru/transactional/burst/send`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'content-type': 'application/json' },
          body: JSON.stringify({ to_email: `burst${i}@example.com`, args: { n: String(i) } }),
        }).then(async (r) => ({ status: r.status, body: await r.text() })),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, r.body);
    // Prepared once: one revision for dont_close_if_empty, marked transactional, started, one send.
    const { rows } = await gw.pool.query<{ rev: number; transactional: boolean; sends: number; dont_close_if_empty: boolean; status: string }>(
      `SELECT m.rev, m.transactional, (SELECT count(*)::int FROM sends WHERE mailing_id = m.id) AS sends, s.dont_close_if_empty, s.status
         FROM mailings m JOIN sends s ON s.mailing_id = m.id WHERE m.id = $1`,
      [id],
    );
    assert.deepEqual(rows, [{ rev: rev0 + 1, transactional: true, sends: 1, dont_close_if_empty: true, status: rows[0]!.status }]);
    assert.ok(['ready', 'running'].includes(rows[0]!.status), rows[0]!.status);
    await waitFor(
      'every message of the burst',
      () => Array.from({ length: n }, (_, i) => relay.to(`burst${i}@example.com`).length).every((k) => k === 1),
      60_000,
    );
  });

  it('a transactional message is delivered while a 50,000-recipient mailing is being sent', { timeout: 180_000 }, async () => {
    const c = { accountId: (await gw.core.accounts.authenticate(key))!.accountId, requestId: 't' };
    const bulk = await gw.core.mailings.create(c, { dialect: 'sender', fromEmail: 'news@autoru.example', subject: 'News', text: 'Hello {{ n }}' });
    for (let i = 0; i < 5; i++) {
      await gw.core.recipients.add(
        c,
        bulk,
        Array.from({ length: 10_000 }, (_, j) => ({ email: `r${i * 10_000 + j}@bulk.example`, fields: { n: j } })),
      );
    }
    await gw.core.mailings.start(c, bulk);
    await waitFor('the bulk mailing is under way', () => relay.messages.filter((m) => m.to[0]!.endsWith('@bulk.example')).length > 500, 60_000);
    const sentAt = Date.now();
    const r = await curlArgs(`-X POST -u ${key}: -d to_email=urgent@example.com -d args='{"var":"now"}' ${url('STIYWPX1-LUX/send')}`);
    assert.equal(r.status, 200);
    await waitFor('the transactional message', () => relay.to('urgent@example.com').length === 1, 60_000, 20);
    const bulkDone = relay.messages.filter((m) => m.to[0]!.endsWith('@bulk.example')).length;
    console.log(`# transactional delivered ${Date.now() - sentAt} ms after the call, with ${bulkDone} of 50000 bulk messages out`);
    assert.ok(bulkDone < 50_000, 'delivered before the bulk mailing ended');
    await gw.core.mailings.pause(c, bulk);
  });
});
