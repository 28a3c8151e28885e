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
import { curl, requestsCall } from './client.js';

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

/** Python `requests`, as Yandex Pay's and other Python clients call Sender (JSON bodies, Basic key:). */
const py = (method: string, url: string, opts: { json?: unknown; data?: unknown; params?: unknown; key?: string | null } = {}) =>
  requestsCall(method, `${gw.url}${url}`, { ...opts, key: opts.key === undefined ? key : opts.key });

const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(key))!.accountId, requestId: 't' });
const LIST = '/api/0/Yandex.Mail/maillist/SBPYSTY1-ALV';

async function subscriber(email: string) {
  const c = await ctx();
  const list = await gw.core.lists.bySlug(c, 'SBPYSTY1-ALV');
  return (await gw.core.lists.subscribers(c, { email }, list.id))[0];
}

async function task(id: string): Promise<any> {
  let t: any;
  await waitFor(`task ${id}`, async () => {
    t = (await py('GET', `/api/0/Yandex.Mail/tasks/${id}`)).body;
    return t.result.state === 'SUCCESS' || t.result.state === 'FAILURE';
  });
  return t.result;
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  key = (await gw.core.accounts.createKey('Yandex.Mail', 'seed')).secret;
  otherKey = gw.key.secret;
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

  it('creates the list (Mailgate addition), then the seed PUT adds a subscriber with params from a form', async () => {
    const created = await sh(`curl -X PUT -u ${SEED_KEY}: -d title="SBPYSTY1 news" '${SEED_HOST}${LIST}'`);
    assert.equal(created.status, 201, created.raw);
    assert.equal(created.body.result.slug, 'SBPYSTY1-ALV');
    assert.equal((await sh(`curl -X PUT -u ${SEED_KEY}: -d title=again '${SEED_HOST}${LIST}'`)).status, 200, 'PUT again: the list as it is');

    const r = await sh(curls[0]!);
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.body, { params: { email: 'test@test.ru', params: '{"name":"Test Test","var1":"value1"}' }, result: { status: 'OK' } });
    const s = await subscriber('test@test.ru');
    assert.deepEqual([s?.status, s?.enabled, s?.params], ['active', true, { name: 'Test Test', var1: 'value1' }]);
  });

  it('the seed DELETE disables it: disabled 1, then already_disabled 1', async () => {
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
    const request = curls.find((c) => /subscription\/request'$/.test(c))!;
    const r = await sh(request.replace("-d to_email=", `-d args='{"greeting":"Hello"}' -d to_email=`));
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
    // Already subscribed: no second message.
    assert.equal((await sh(request)).status, 200);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(relay.to('test@test.ru').length, 1);
  });

  it('countdown and expires: a confirmation due later waits; one that expires first is never sent', async () => {
    const c = await ctx();
    const list = await gw.core.lists.bySlug(c, 'SBPYSTY1-ALV');
    const r = await py('POST', `${LIST}/subscription/request`, { data: { to_email: 'later@test.ru', countdown: '0h0m2s', async: 'True' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const gone = await py('POST', `${LIST}/subscription/request`, { json: { to_email: 'never@test.ru', countdown: 3, expires: 0 } });
    assert.equal(gone.status, 200);
    const { rows } = await gw.pool.query(`SELECT email, next_try > now() + interval '1 second' AS waits FROM recipients WHERE email IN ('later@test.ru', 'never@test.ru') ORDER BY email`);
    assert.deepEqual(rows, [{ email: 'later@test.ru', waits: true }, { email: 'never@test.ru', waits: true }]);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(relay.to('later@test.ru').length, 0, 'not before its countdown');
    await waitFor('the later one sent', () => relay.to('later@test.ru').length === 1, 30_000);
    await waitFor('the expired one ends TIMEOUT', async () => (await gw.pool.query("SELECT status FROM recipients WHERE email = 'never@test.ru'")).rows[0].status === 'timeout', 30_000);
    assert.equal(relay.to('never@test.ru').length, 0);
    void list;
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
    const tooMany = await py('PUT', `${LIST}/subscription/bulk`, { json: { items: items(1001, 'x') } });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.result.status, 'ERROR');
    assert.equal((await gw.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n, tasksBefore);
    assert.equal(await subscriber('x0@bulk.test'), undefined);

    const bad = await py('PUT', `${LIST}/subscription/bulk`, { json: { items: [{ email: 'ok@bulk.test' }, { email: 'not an address' }] } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /items\[1\]/);
    assert.equal(await subscriber('ok@bulk.test'), undefined, 'all or none');

    // A new revision in two calls (the second with disable_others): the first revision's others are disabled.
    const second = await py('PUT', `${LIST}/subscription/bulk`, { json: { items: items(10, 'a') } });
    const rev2 = second.body.result.rev as number;
    assert.ok(rev2 > rev1);
    const last = await py('PUT', `${LIST}/subscription/bulk`, { data: { items: JSON.stringify(items(5, 'c')), rev: String(rev2), disable_others: 'true' } });
    assert.equal(last.body.result.rev, rev2);
    await task(second.body.result.task_id);
    const info = (await task(last.body.result.task_id)).info;
    assert.ok(info.disabled_others >= 990, JSON.stringify(info));
    assert.equal((await subscriber('a5@bulk.test'))?.enabled, true);
    assert.equal((await subscriber('c4@bulk.test'))?.enabled, true);
    assert.equal((await subscriber('a500@bulk.test'))?.enabled, false);
    assert.equal((await subscriber('a500@bulk.test'))?.status, 'disabled');
  });

  it('bulk calls made faster than they apply run in call order, each with its own counts', async () => {
    const ids: string[] = [];
    for (let call = 0; call < 20; call++) {
      const items = [...Array.from({ length: 100 }, (_, i) => ({ email: `d${i}@order.test`, params: { n: call, [`k${call}`]: 1 } })), { email: `u${call}@order.test` }];
      const r = await py('PUT', `${LIST}/subscription/bulk`, { json: { items } });
      assert.equal(r.status, 200);
      ids.push(r.body.result.task_id);
    }
    const infos = [];
    for (const id of ids) {
      const t = await task(id);
      assert.equal(t.state, 'SUCCESS', JSON.stringify(t));
      infos.push([t.info.inserted, t.info.updated]);
    }
    assert.deepEqual(infos, [[101, 0], ...Array.from({ length: 19 }, () => [1, 100])]);
    const d0 = await subscriber('d0@order.test');
    assert.equal(d0?.params.n, 19, 'the last call wins');
    assert.deepEqual(Object.keys(d0!.params).filter((k) => k.startsWith('k')).length, 20, 'each call merged its params in turn');
  });

  it("the seed's content call pages like Django REST Framework; the email lookup answers one element, 404 or 400", async () => {
    const content = curls.find((c) => /content\?/.test(c))!;
    const r = await sh(content);
    assert.equal(r.status, 200, r.raw);
    const b = r.body;
    assert.ok(b.count > 1000);
    assert.deepEqual(b.params, { after: '2016-01-01T00:00:00+00:00', limit: 1, offset: 1 });
    assert.equal(b.previous, `${gw.url}${LIST}/content?after=2016-01-01T00%3A00%3A00&limit=1`);
    assert.equal(b.next, `${gw.url}${LIST}/content?after=2016-01-01T00%3A00%3A00&limit=1&offset=2`);
    assert.equal(b.result.length, 1);
    assert.deepEqual(Object.keys(b.result[0]).filter((k) => k.startsWith('_')).sort(), ['_created_at', '_enabled', '_modified_at', '_status']);
    assert.match(b.result[0]._created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // Following next until the end sees every subscriber once.
    let url: string | null = `${LIST}/content?limit=400`;
    const seen = new Set<string>();
    while (url) {
      const page: { status: number; body: any } = await py('GET', url.replace(gw.url, ''));
      for (const s of page.body.result) seen.add(s.email);
      url = page.body.next;
    }
    assert.equal(seen.size, b.count);

    const lookup = curls.find((c) => /email\/guido/.test(c))!;
    assert.deepEqual(await sh(lookup), { status: 404, body: { result: { status: 'ERROR', error: { detail: 'Email is not in maillist.' } } }, raw: '{"result":{"status":"ERROR","error":{"detail":"Email is not in maillist."}}}' });
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
    const badEmail = await py('PUT', `${LIST}/subscription`, { json: { email: 'no-at-sign' } });
    assert.deepEqual([badEmail.status, badEmail.body], [400, { result: { status: 'ERROR', error: { detail: 'Wrong email format' } } }]);
    const noList = await py('PUT', '/api/0/Yandex.Mail/maillist/NO-SUCH/subscription', { json: { email: 'z@test.ru' } });
    assert.deepEqual([noList.status, noList.body.result.status], [404, 'ERROR']);
    const notIn = await py('DELETE', `${LIST}/subscription`, { json: { email: 'nobody@test.ru' } });
    assert.deepEqual([notIn.status, notIn.body], [404, { result: { status: 'ERROR', error: { detail: 'Email is not in maillist.' } } }]);
    const other = await py('PUT', `${LIST}/subscription`, { json: { email: 'z@test.ru' }, key: otherKey });
    assert.equal(other.status, 403);
    const none = await py('GET', `${LIST}/content`, { key: null });
    assert.equal(none.status, 401);
    const wrong = await py('GET', `${LIST}/content`, { key: 'f'.repeat(32) });
    assert.equal(wrong.status, 401);
    const after = (await gw.pool.query('SELECT count(*)::int AS n, max(modified_at) AS m FROM subscribers')).rows[0];
    assert.deepEqual(after, before);
  });
});
