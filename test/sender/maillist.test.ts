/**
 * Yandex Sender's maillist API over real HTTP: the seed's own curl lines (read from the seed file, host and
 * key replaced, run by bash), Yandex Pay's JSON calls made with Python `requests`, bulk tasks run by the real
 * worker, the double opt-in confirmation captured by a real SMTP server and its link followed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { curl, pythonClient, requestsPages, type RequestsOptions } from './client.js';

// A copy of ../shared/seeds/003_2f3a3da25fe57471.txt (the wire contract; CI's clone has no ../shared).
const SEED = path.join(import.meta.dirname, 'fixtures/003_2f3a3da25fe57471.txt');
const SEED_HOST = 'https://test.sender.yandex-team.ru';
const SEED_KEY = '3579418885b9514a437570d420e46926';

let gw: TestGateway;
let relay: TestSmtpServer;
let key: string;
let otherKey: string;

/** The seed's curl commands, in order (continuation lines joined). */
function seedCurls(): string[] {
  const lines = readFileSync(SEED, 'utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s+curl /.test(lines[i]!)) continue;
    let cmd = '';
    for (; i < lines.length; i++) {
      const l = lines[i]!.trim();
      cmd += l.replace(/\\$/, ' ');
      if (!l.endsWith('\\')) break;
    }
    out.push(cmd);
  }
  return out;
}

const sh = (cmd: string) => curl(cmd.replaceAll(SEED_HOST, gw.url).replaceAll(SEED_KEY, key));

const { py, pyAll } = pythonClient(
  () => gw.url,
  () => key,
);

const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(key))!.accountId, requestId: 't' });
const LIST = '/api/0/Yandex.Mail/maillist/SBPYSTY1-ALV';

async function subscriber(email: string) {
  const c = await ctx();
  const list = await gw.core.lists.bySlug(c, 'SBPYSTY1-ALV');
  return (await gw.core.lists.subscribers(c, { email }, list.id))[0];
}

/** Bulk tasks, once done (stored state), as the tasks call answers them. */
async function tasks(ids: string[]): Promise<any[]> {
  await waitFor(`tasks ${ids.join(', ')} done`, async () => {
    const { rows } = await gw.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status IN ('success', 'failure')`,
      [ids],
    );
    return rows[0]!.n === ids.length;
  });
  const replies = await pyAll(ids.map((id) => ['GET', `/api/0/Yandex.Mail/tasks/${id}`] as [string, string]));
  return replies.map((r) => {
    assert.ok(r.body.result.state === 'SUCCESS' || r.body.result.state === 'FAILURE', JSON.stringify(r.body));
    return r.body.result;
  });
}
const task = async (id: string) => (await tasks([id]))[0];

/** Messages queued for an address (every message goes out as a recipient row: none queued, none ever sent). */
async function queuedFor(email: string): Promise<number> {
  const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE email = $1', [email]);
  return rows[0]!.n;
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  key = (await gw.core.accounts.createKey('Yandex.Mail', 'seed')).secret;
  otherKey = gw.key.secret;
  // The seed's list, which every test below uses (its creation over the wire is a test of its own).
  await gw.core.lists.createWithSlug(await ctx(), { slug: 'SBPYSTY1-ALV', name: 'SBPYSTY1 news' });
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

describe("sender: the maillist API, as the seed's curl lines and real clients call it", () => {
  const curls = seedCurls();

  it('the seed has the calls this test runs', () => {
    assert.equal(curls.length, 7);
    assert.match(curls[0]!, /^curl -X PUT .* -d params=.*\/subscription'$/);
  });

  it('creates a list (Mailgate addition): 201 when new, 200 with the list as it is when it exists', async () => {
    const other = '/api/0/Yandex.Mail/maillist/SBPYSTY1-NEW';
    const created = await sh(`curl -X PUT -u ${SEED_KEY}: -d title="SBPYSTY1 more news" '${SEED_HOST}${other}'`);
    assert.equal(created.status, 201, created.raw);
    assert.equal(created.body.result.slug, 'SBPYSTY1-NEW');
    assert.equal((await sh(`curl -X PUT -u ${SEED_KEY}: -d title=again '${SEED_HOST}${other}'`)).status, 200, 'PUT again: the list as it is');
    assert.equal((await sh(`curl -X PUT -u ${SEED_KEY}: -d title=again '${SEED_HOST}${LIST}'`)).status, 200, "PUT on the seed's list: as it is");
  });

  it('the seed PUT adds a subscriber with params from a form', async () => {
    const r = await sh(curls[0]!);
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.body, { params: { email: 'test@test.ru', params: '{"name":"Test Test","var1":"value1"}' }, result: { status: 'OK' } });
    const s = await subscriber('test@test.ru');
    assert.deepEqual([s?.status, s?.enabled, s?.params], ['active', true, { name: 'Test Test', var1: 'value1' }]);
  });

  it("answers JSON as the seed's example shows it (Content-Type), with a Content-Length and no ETag, refusals too", async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
    const body = JSON.stringify({ email: 'headers@test.ru', params: { var1: 'value1' } });
    const put = await fetch(`${gw.url}${LIST}/subscription`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body });
    const refused = await fetch(`${gw.url}${LIST}/subscription`, { method: 'PUT', headers: auth });
    for (const [r, status] of [
      [put, 200],
      [refused, 400],
    ] as const) {
      const text = await r.text();
      assert.deepEqual(
        [r.status, r.headers.get('content-type'), r.headers.get('content-length'), r.headers.get('etag')],
        [status, 'application/json; charset=utf-8', String(Buffer.byteLength(text)), null],
        text,
      );
    }
  });

  it('the seed DELETE disables it: disabled 1, then already_disabled 1', async () => {
    assert.equal((await sh(curls[0]!)).status, 200, 'subscribed (the seed PUT)');
    const del = curls.find((c) => /-X DELETE/.test(c) && /subscription'$/.test(c))!;
    assert.deepEqual((await sh(del)).body, { params: { email: 'test@test.ru' }, result: { status: 'OK', disabled: 1, already_disabled: 0 } });
    assert.deepEqual((await sh(del)).body, { params: { email: 'test@test.ru' }, result: { status: 'OK', disabled: 0, already_disabled: 1 } });
    const s = await subscriber('test@test.ru');
    assert.deepEqual([s?.status, s?.enabled], ['disabled', false]);
  });

  it('the seed subscription/request: the address waits unconfirmed, the confirmation is mailed with args, its link enables it', async () => {
    const c = await ctx();
    const mailing = await gw.core.mailings.create(c, {
      dialect: 'sender',
      fromEmail: 'news@yandex.example',
      subject: 'Confirm, {{ name }}',
      html: '<p>{{ greeting }} <a href="{{ subscribe_link }}">confirm</a></p>',
    });
    const list = await gw.core.lists.bySlug(c, 'SBPYSTY1-ALV');
    await gw.core.subscriptions.setConfirmMailing(c, list.id, mailing);
    // The address as the seed's DELETE leaves it: disabled by a call, so a request asks for its confirmation again.
    await sh(curls[0]!);
    assert.equal((await sh(curls.find((c) => /-X DELETE/.test(c) && /subscription'$/.test(c))!)).status, 200);
    const request = curls.find((c) => /subscription\/request'$/.test(c))!;
    const r = await sh(request.replace('-d to_email=', `-d args='{"greeting":"Hello"}' -d to_email=`));
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.body, { params: { email: 'test@test.ru' }, result: { status: 'OK' } });
    assert.equal((await subscriber('test@test.ru'))?.status, 'unconfirmed');
    await waitFor('confirmation', () => relay.to('test@test.ru').length === 1);
    const msg = relay.to('test@test.ru')[0]!;
    assert.equal(msg.header('subject'), 'Confirm, Test Test', 'the subscriber params are fields');
    const html = String((await msg.parse()).html);
    assert.match(html, /Hello/);
    const link = /href="([^"]+)"/.exec(html)![1]!;
    const followed = await runProcess('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', link.replace('http://mailgate.test', gw.url)]);
    assert.equal(followed.stdout, '200');
    assert.deepEqual([(await subscriber('test@test.ru'))?.status, (await subscriber('test@test.ru'))?.enabled], ['active', true]);
    // Already subscribed: no second message (none even queued).
    assert.equal((await sh(request)).status, 200);
    assert.equal(await queuedFor('test@test.ru'), 1);
    assert.equal(relay.to('test@test.ru').length, 1);
  });

  it('countdown and expires: a confirmation due later waits; one that expires first is never sent', async () => {
    // The database's clock around each request (to the millisecond, as the gateway's times are): the times
    // stored for its message lie within those bounds plus its countdown and expiry.
    const clock = async () => (await gw.pool.query<{ t: string }>("SELECT date_trunc('milliseconds', clock_timestamp())::text AS t")).rows[0]!.t;
    const before1 = await clock();
    const r = await py('POST', `${LIST}/subscription/request`, { data: { to_email: 'later@test.ru', countdown: '0h0m2s', async: 'True' } });
    const after1 = await clock();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const before2 = await clock();
    const gone = await py('POST', `${LIST}/subscription/request`, { json: { to_email: 'never@test.ru', countdown: 3, expires: 0 } });
    const after2 = await clock();
    assert.equal(gone.status, 200);
    const within = (column: string, from: string, to: string, seconds: number) =>
      `${column} BETWEEN '${from}'::timestamptz + interval '${seconds} seconds' AND '${to}'::timestamptz + interval '${seconds} seconds'`;
    // The due time (next_try) is compared only while a message still waits: on a loaded machine its countdown
    // may have run out before this query, the message gone (next_try cleared). What proves the wait then is
    // when it was tried, below: never before the request plus its countdown.
    const { rows } = await gw.pool.query(
      `SELECT email, expires_at IS NULL AS no_expiry,
              CASE email WHEN 'later@test.ru' THEN next_try IS NULL OR ${within('next_try', before1, after1, 2)}
                         ELSE next_try IS NULL OR ${within('next_try', before2, after2, 3)} END AS due_after_countdown,
              CASE email WHEN 'later@test.ru' THEN expires_at IS NULL ELSE ${within('expires_at', before2, after2, 3)} END AS expiry,
              ('${before1}'::timestamptz + interval '2 seconds') AS due_later
         FROM recipients WHERE email IN ('later@test.ru', 'never@test.ru') ORDER BY email`,
    );
    assert.deepEqual(
      rows.map((x) => [x.email, x.due_after_countdown, x.no_expiry, x.expiry]),
      [
        ['later@test.ru', true, true, true],
        ['never@test.ru', true, false, true],
      ],
    );
    const dueLater: Date = rows[0].due_later;

    // Sent, and its outcome recorded (the relay accepts a message before its batch's outcomes are written).
    await waitFor(
      'the later one sent',
      async () => (await gw.pool.query("SELECT status FROM recipients WHERE email = 'later@test.ru'")).rows[0].status === 'finished',
      30_000,
    );
    assert.equal(relay.to('later@test.ru').length, 1);
    const sent = await gw.pool.query<{ first_try: Date }>("SELECT first_try FROM recipients WHERE email = 'later@test.ru'");
    assert.ok(sent.rows[0]!.first_try >= dueLater, `tried at ${sent.rows[0]!.first_try.toISOString()}, not before its countdown (${dueLater.toISOString()})`);
    assert.ok(relay.to('later@test.ru')[0]!.receivedAt >= dueLater, 'not at the relay before its countdown');
    await waitFor(
      'the expired one ends TIMEOUT',
      async () => (await gw.pool.query("SELECT status FROM recipients WHERE email = 'never@test.ru'")).rows[0].status === 'timeout',
      30_000,
    );
    const never = await gw.pool.query("SELECT try_count, first_try FROM recipients WHERE email = 'never@test.ru'");
    assert.deepEqual(never.rows, [{ try_count: 0, first_try: null }], 'never tried');
    assert.equal(relay.to('never@test.ru').length, 0);
  });

  it("the seed's bulk PUT (its JSON quoted: the seed's line does not survive a shell) and bulk DELETE run as tasks", async () => {
    const put = curls.find((c) => /-X PUT/.test(c) && /bulk'$/.test(c))!;
    assert.match(put, / -d \{"items"/, 'the seed line is unquoted');
    const quoted = put.replace(/-d (\{.*\}\]\}) /, "-d '$1' ");
    const r = await sh(quoted);
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(Object.keys(r.body.result).sort(), ['rev', 'status', 'task_id']);
    assert.match(r.body.result.task_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(typeof r.body.result.rev, 'number');
    const done = await task(r.body.result.task_id);
    assert.equal(done.state, 'SUCCESS', JSON.stringify(done));
    assert.deepEqual([done.info.inserted, done.info.updated], [2, 0]);
    assert.equal((await subscriber('ba@as.ru'))?.status, 'active');

    const del = curls.find((c) => /-X DELETE/.test(c) && /bulk'$/.test(c))!;
    const d = await sh(del);
    assert.equal(d.status, 200, d.raw);
    assert.deepEqual(Object.keys(d.body.result).sort(), ['status', 'task_id']);
    const deleted = await task(d.body.result.task_id);
    assert.deepEqual([deleted.state, deleted.info.disabled], ['SUCCESS', 2]);
    assert.equal((await subscriber('b@as.ru'))?.enabled, false);
  });

  it('bulk: 1000 items pass, 1001 are refused with nothing stored; disable_others across revisions', async () => {
    const items = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ email: `${p}${i}@bulk.test`, params: { n: i } }));
    const ok = await py('PUT', `${LIST}/subscription/bulk`, { json: { items: items(1000, 'a') } });
    assert.equal(ok.status, 200);
    const rev1 = ok.body.result.rev as number;
    assert.equal((await task(ok.body.result.task_id)).info.inserted, 1000);

    const tasksBefore = (await gw.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n;
    const [tooMany, bad] = await pyAll([
      ['PUT', `${LIST}/subscription/bulk`, { json: { items: items(1001, 'x') } }],
      ['PUT', `${LIST}/subscription/bulk`, { json: { items: [{ email: 'ok@bulk.test' }, { email: 'not an address' }] } }],
    ]);
    assert.equal(tooMany!.status, 400);
    assert.equal(tooMany!.body.result.status, 'ERROR');
    assert.equal((await gw.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n, tasksBefore);
    assert.equal(await subscriber('x0@bulk.test'), undefined);

    assert.equal(bad!.status, 400);
    assert.match(JSON.stringify(bad!.body), /items\[1\]/);
    assert.equal(await subscriber('ok@bulk.test'), undefined, 'all or none');

    // A new revision in two calls (the second with disable_others): the first revision's others are disabled.
    const second = await py('PUT', `${LIST}/subscription/bulk`, { json: { items: items(10, 'a') } });
    const rev2 = second.body.result.rev as number;
    assert.ok(rev2 > rev1);
    const last = await py('PUT', `${LIST}/subscription/bulk`, { data: { items: JSON.stringify(items(5, 'c')), rev: String(rev2), disable_others: 'true' } });
    assert.equal(last.body.result.rev, rev2);
    const info = (await tasks([second.body.result.task_id, last.body.result.task_id]))[1].info;
    assert.ok(info.disabled_others >= 990, JSON.stringify(info));
    assert.equal((await subscriber('a5@bulk.test'))?.enabled, true);
    assert.equal((await subscriber('c4@bulk.test'))?.enabled, true);
    assert.equal((await subscriber('a500@bulk.test'))?.enabled, false);
    assert.equal((await subscriber('a500@bulk.test'))?.status, 'disabled');
  });

  it('bulk calls made faster than they apply run in call order, each with its own counts', async () => {
    const calls = Array.from({ length: 20 }, (_, call) => {
      const items = [
        ...Array.from({ length: 100 }, (_, i) => ({ email: `d${i}@order.test`, params: { n: call, [`k${call}`]: 1 } })),
        { email: `u${call}@order.test` },
      ];
      return ['PUT', `${LIST}/subscription/bulk`, { json: { items } }] as [string, string, RequestsOptions];
    });
    const replies = await pyAll(calls);
    for (const r of replies) assert.equal(r.status, 200);
    const infos = [];
    for (const t of await tasks(replies.map((r) => r.body.result.task_id))) {
      assert.equal(t.state, 'SUCCESS', JSON.stringify(t));
      infos.push([t.info.inserted, t.info.updated]);
    }
    assert.deepEqual(infos, [[101, 0], ...Array.from({ length: 19 }, () => [1, 100])]);
    const d0 = await subscriber('d0@order.test');
    assert.equal(d0?.params.n, 19, 'the last call wins');
    assert.deepEqual(Object.keys(d0.params).filter((k) => k.startsWith('k')).length, 20, 'each call merged its params in turn');
  });

  it('concurrent bulk calls of one list each get their own revision, all land, and apply in revision order', async () => {
    // Eight clients at once, each naming one shared address and one of its own; none names a revision.
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, call) =>
        py('PUT', `${LIST}/subscription/bulk`, {
          json: { items: [{ email: 'shared@concurrent.test', params: { call } }, { email: `own${call}@concurrent.test` }] },
        }),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, JSON.stringify(r.body));
    const revs = replies.map((r) => r.body.result.rev as number);
    assert.equal(new Set(revs).size, 8, `distinct revisions: ${revs.join(', ')}`);
    const infos = await tasks(replies.map((r) => r.body.result.task_id));
    for (const [i, t] of infos.entries()) {
      assert.equal(t.state, 'SUCCESS', JSON.stringify(t));
      assert.equal(t.info.rev, revs[i]);
    }
    // In revision order: the lowest inserted the shared address, the highest wrote it last.
    const byRev = [...revs.keys()].sort((a, b) => revs[a]! - revs[b]!);
    assert.deepEqual(
      byRev.map((i) => [infos[i].info.inserted, infos[i].info.updated]),
      [[2, 0], ...Array.from({ length: 7 }, () => [1, 1])],
    );
    const shared = await subscriber('shared@concurrent.test');
    assert.equal(shared?.params.call, byRev.at(-1));
    const { rows } = await gw.pool.query<{ rev: number }>("SELECT rev FROM subscribers WHERE email = 'shared@concurrent.test'");
    assert.deepEqual(rows, [{ rev: Math.max(...revs) }]);
    for (let call = 0; call < 8; call++) assert.equal((await subscriber(`own${call}@concurrent.test`))?.enabled, true);
  });

  it("the seed's content call pages like Django REST Framework; the email lookup answers one element, 404 or 400", async () => {
    // More than 1000 subscribers, whatever the tests before left.
    const c = await ctx();
    await gw.core.lists.subscribe(
      c,
      (await gw.core.lists.bySlug(c, 'SBPYSTY1-ALV')).id,
      Array.from({ length: 1001 }, (_, i) => ({ email: `p${i}@content.test`, params: { n: i } })),
    );
    const content = curls.find((c) => /content\?/.test(c))!;
    const r = await sh(content);
    assert.equal(r.status, 200, r.raw);
    const b = r.body;
    assert.ok(b.count > 1000);
    assert.deepEqual(b.params, { after: '2016-01-01T00:00:00+00:00', limit: 1, offset: 1 });
    assert.equal(b.previous, `${gw.url}${LIST}/content?after=2016-01-01T00%3A00%3A00&limit=1`);
    assert.equal(b.next, `${gw.url}${LIST}/content?after=2016-01-01T00%3A00%3A00&limit=1&offset=2`);
    assert.equal(b.result.length, 1);
    assert.deepEqual(
      Object.keys(b.result[0])
        .filter((k) => k.startsWith('_'))
        .sort(),
      ['_created_at', '_enabled', '_modified_at', '_status'],
    );
    assert.match(b.result[0]._created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // Following next until the end sees every subscriber once.
    const seen = new Set<string>();
    for (const page of await requestsPages(`${gw.url}${LIST}/content?limit=400`, key)) for (const s of page.body.result) seen.add(s.email);
    assert.equal(seen.size, b.count);

    const lookup = curls.find((c) => /email\/guido/.test(c))!;
    assert.deepEqual(await sh(lookup), {
      status: 404,
      body: { result: { status: 'ERROR', error: { detail: 'Email is not in maillist.' } } },
      raw: '{"result":{"status":"ERROR","error":{"detail":"Email is not in maillist."}}}',
    });
    await py('PUT', `${LIST}/subscription`, { json: { email: 'guido@eggs.ni', params: { name: 'Guido' } } });
    const found = await sh(lookup);
    assert.equal(found.status, 200);
    assert.deepEqual(Object.keys(found.body), ['result']);
    assert.equal(found.body.result.name, 'Guido');
    assert.deepEqual([found.body.result.email, found.body.result._enabled, found.body.result._status], ['guido@eggs.ni', true, '']);
    assert.deepEqual((await py('GET', `${LIST}/email/guido.eggs.ni`)).body, { result: { status: 'ERROR', error: { detail: 'Wrong email format' } } });
  });

  it('bad input is answered the Sender way and changes nothing; keys of other accounts are refused', async () => {
    const before = (await gw.pool.query('SELECT count(*)::int AS n, max(modified_at) AS m FROM subscribers')).rows[0];
    const badParams = await sh(`curl -X PUT -u ${SEED_KEY}: -d params='{"name": ' -d email="z@test.ru" '${SEED_HOST}${LIST}/subscription'`);
    assert.deepEqual([badParams.status, badParams.body], [400, { result: { status: 'ERROR', error: { params: ['Value must be valid JSON.'] } } }]);
    const badJson = await sh(`curl -X PUT -u ${SEED_KEY}: -H 'Content-Type: application/json' -d '{"email": ' '${SEED_HOST}${LIST}/subscription'`);
    assert.equal(badJson.status, 400);
    assert.match(badJson.body.result.error.detail, /^JSON parse error/);
    const [badEmail, noList, notIn, other, none, wrong] = await pyAll([
      ['PUT', `${LIST}/subscription`, { json: { email: 'no-at-sign' } }],
      ['PUT', '/api/0/Yandex.Mail/maillist/NO-SUCH/subscription', { json: { email: 'z@test.ru' } }],
      ['DELETE', `${LIST}/subscription`, { json: { email: 'nobody@test.ru' } }],
      ['PUT', `${LIST}/subscription`, { json: { email: 'z@test.ru' }, key: otherKey }],
      ['GET', `${LIST}/content`, { key: null }],
      ['GET', `${LIST}/content`, { key: 'f'.repeat(32) }],
    ]);
    assert.deepEqual([badEmail!.status, badEmail!.body], [400, { result: { status: 'ERROR', error: { detail: 'Wrong email format' } } }]);
    assert.deepEqual([noList!.status, noList!.body.result.status], [404, 'ERROR']);
    assert.deepEqual([notIn!.status, notIn!.body], [404, { result: { status: 'ERROR', error: { detail: 'Email is not in maillist.' } } }]);
    assert.equal(other!.status, 403);
    assert.equal(none!.status, 401);
    assert.equal(wrong!.status, 401);
    const after = (await gw.pool.query('SELECT count(*)::int AS n, max(modified_at) AS m FROM subscribers')).rows[0];
    assert.deepEqual(after, before);
  });
});
