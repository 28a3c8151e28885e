/**
 * Emailicious over real HTTP against a real Postgres, the real worker and a real SMTP server on loopback:
 * lists and subscribers as the PHP client calls them (form bodies, 409 on a duplicate, activate/unsubscribe,
 * `update()`'s whole-object PUT), the seed's mailing request with a zip made by the docs' Python recipe
 * (its image served under PUBLIC_URL and the page rewritten), the same mailing in the PHP client's form and
 * multipart encodings, deliveries that fire and send each language its variant, pagination over 250
 * mailings followed as the PHP client follows it, every bad-zip case, DRF's errors, OPTIONS/405/Allow/Vary,
 * and another account's key on every endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { curl } from '../sender/client.js';
import { PNG, basic, call, dataUri, php, phpAll, phpForm, phpMultipart, pythonSeedPost, zip, type Reply } from './client.js';

let gw: TestGateway;
let relay: TestSmtpServer;
let secret: string;
let other: string;
let dir: string;

const api = (method: string, p: string, o: Parameters<typeof call>[4] = {}) => call(gw.url, secret, method, `/api/v1${p}`, o);
const form = (fields: Record<string, unknown>) => ({ type: 'application/x-www-form-urlencoded; charset=utf-8', body: phpForm(fields) });

async function newList(name: string, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await api('POST', '/lists', {
    json: { name, default_from_name: 'Acme News', default_from_email: 'news@acme.example', default_language: 'fr', languages: ['fr', 'en'], ...extra },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

async function mailingCount(): Promise<number> {
  return (await api('GET', '/mailings')).body.count;
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, SEND_BATCH_SIZE: '100' } });
  secret = gw.key.secret;
  other = (await gw.core.accounts.createKey('globex', 'other')).secret;
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-emailicious-'));
  await writeFile(path.join(dir, 'planet.png'), PNG);
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('emailicious: lists and subscribers', () => {
  it('creates, reads, updates and pages lists with their defaults and languages', async () => {
    const id = await newList('Newsletter');
    const r = await api('GET', `/lists/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('allow'), 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS');
    assert.equal(r.headers.get('vary'), 'Accept');
    assert.deepEqual(
      { ...r.body, create_datetime: typeof r.body.create_datetime, update_datetime: typeof r.body.update_datetime },
      {
        id,
        create_datetime: 'string',
        create_user: null,
        update_datetime: 'string',
        update_user: null,
        name: 'Newsletter',
        default_from_name: 'Acme News',
        default_from_email: 'news@acme.example',
        default_replyto_email: '',
        default_language: 'fr',
        languages: ['fr', 'en'],
      },
    );
    // The PHP client's update(): PATCH with a form body, languages as repeated keys.
    const patched = await php(
      gw.url,
      secret,
      'PATCH',
      `/api/v1/lists/${id}`,
      form({ default_replyto_email: 'reply@acme.example', languages: ['fr', 'en', 'de'] }),
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.default_replyto_email, 'reply@acme.example');
    assert.deepEqual(patched.body.languages, ['fr', 'en', 'de']);
    assert.equal(patched.body.name, 'Newsletter');
    const bad = await api('PATCH', `/lists/${id}`, { json: { default_from_email: 'not an address' } });
    assert.deepEqual([bad.status, bad.body], [400, { default_from_email: ['Enter a valid email address.'] }]);
    assert.equal((await api('GET', `/lists/${id}`)).body.default_from_email, 'news@acme.example', 'a refused write changes nothing');
    const missing = await api('POST', '/lists', { json: { default_from_name: 'x' } });
    assert.deepEqual([missing.status, missing.body], [400, { name: ['This field is required.'] }]);
    const all = await phpAll(gw.url, secret, 'lists');
    assert.ok(all.results.some((l) => l.id === id));
    // DELETE: 204; its subscribers and mailings go with it (as Emailicious documents).
    const doomed = await newList('Doomed');
    await api('POST', `/lists/${doomed}/subscribers`, { json: { email: 'doomed@example.com' } });
    const m = await api('POST', '/mailings', { json: { list: doomed, name: 'Doomed mailing', variants: [{ subject: 's', layout: { text: 't' } }] } });
    const gone = await api('DELETE', `/lists/${doomed}`);
    assert.deepEqual([gone.status, gone.body], [204, null]);
    assert.deepEqual(
      [
        (await api('GET', `/lists/${doomed}`)).status,
        (await api('GET', `/mailings/${m.body.id}`)).status,
        (await api('GET', `/lists/${doomed}/subscribers`)).status,
      ],
      [404, 404, 404],
    );
    assert.equal((await api('DELETE', `/lists/${doomed}`)).status, 404);
  });

  it('adds subscribers as the PHP client does, answers a duplicate 409 with the existing subscriber, and filters by status and email', async () => {
    const listId = await newList('Members');
    const created = await php(
      gw.url,
      secret,
      'POST',
      `/api/v1/lists/${listId}/subscribers`,
      form({
        email: 'dolly@example.com',
        first_name: 'Dolly',
        last_name: 'Parton',
        gender: 'f',
        date_of_birth: '1946-01-19',
        language: 'en',
        region: 'US-TN',
        shoe_size: '38',
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('allow'), 'GET, POST, HEAD, OPTIONS');
    const id = created.body.id;
    assert.deepEqual(
      { ...created.body, create_datetime: undefined, update_datetime: undefined },
      {
        id,
        create_datetime: undefined,
        create_user: null,
        update_datetime: undefined,
        update_user: null,
        subscription: 'active',
        email: 'dolly@example.com',
        first_name: 'Dolly',
        last_name: 'Parton',
        gender: 'f',
        date_of_birth: '1946-01-19',
        language: 'en',
        region: 'US-TN',
        shoe_size: '38',
      },
    );
    const dup = await php(gw.url, secret, 'POST', `/api/v1/lists/${listId}/subscribers`, form({ email: 'dolly@EXAMPLE.com', first_name: 'Other' }));
    assert.equal(dup.status, 409);
    assert.equal(dup.body.id, id);
    assert.equal(dup.body.first_name, 'Dolly', 'the 409 carries the stored subscriber, unchanged');

    const bad = await php(gw.url, secret, 'POST', `/api/v1/lists/${listId}/subscribers`, form({ email: 'nope', gender: 'x' }));
    assert.deepEqual([bad.status, bad.body], [400, { email: ['Enter a valid email address.'], gender: ['"x" is not a valid choice.'] }]);

    const byEmail = await php(gw.url, secret, 'GET', `/api/v1/lists/${listId}/subscribers?email=dolly%40example.com`);
    assert.deepEqual([byEmail.body.count, byEmail.body.results[0].id], [1, id]);
    assert.equal((await php(gw.url, secret, 'GET', `/api/v1/lists/${listId}/subscribers?email=nobody%40example.com`)).body.count, 0);
    assert.equal((await api('GET', `/lists/${listId}/subscribers?subscription=active`)).body.count, 1);
    assert.equal((await api('GET', `/lists/${listId}/subscribers?subscription=pending`)).body.count, 0);
    assert.equal((await api('GET', `/lists/${listId}/subscribers?subscription=whatever`)).status, 400);

    // Model::update(): the object as last read, read-only fields and nulls (bare keys) included, as a PUT.
    const whole = { ...created.body, first_name: 'Dolly R.', date_of_birth: null, region: null };
    const put = await php(gw.url, secret, 'PUT', `/api/v1/lists/${listId}/subscribers/${id}`, form(whole));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(
      [put.body.first_name, put.body.date_of_birth, put.body.region, put.body.subscription, put.body.shoe_size],
      ['Dolly R.', null, '', 'active', '38'],
    );
    // Model::update(['first_name']): a PATCH of the named fields only.
    const patch = await php(gw.url, secret, 'PATCH', `/api/v1/lists/${listId}/subscribers/${id}`, form({ first_name: 'D.' }));
    assert.deepEqual([patch.status, patch.body.first_name, patch.body.last_name], [200, 'D.', 'Parton']);
    // A PUT to an address another subscriber has: 409 with that one.
    const second = await api('POST', `/lists/${listId}/subscribers`, { json: { email: 'kenny@example.com' } });
    const clash = await api('PUT', `/lists/${listId}/subscribers/${second.body.id}`, { json: { email: 'dolly@example.com' } });
    assert.deepEqual([clash.status, clash.body.id], [409, id]);
  });

  it('deletes (status deleted, still a conflict), unsubscribes and activates, with or without confirmation', async () => {
    const listId = await newList('Lifecycle');
    const s = (await api('POST', `/lists/${listId}/subscribers`, { json: { email: 'cycle@example.com' } })).body;
    const del = await api('DELETE', `/lists/${listId}/subscribers/${s.id}`);
    assert.equal(del.status, 204);
    assert.equal((await api('GET', `/lists/${listId}/subscribers/${s.id}`)).body.subscription, 'deleted');
    const again = await api('POST', `/lists/${listId}/subscribers`, { json: { email: 'cycle@example.com' } });
    assert.deepEqual([again.status, again.body.subscription], [409, 'deleted']);
    // The PHP client's activate() and unsubscribe(): POST without a body.
    const act = await php(gw.url, secret, 'POST', `/api/v1/lists/${listId}/subscribers/${s.id}/activate`);
    assert.deepEqual([act.status, act.body], [200, { status: 'active' }]);
    assert.equal(act.headers.get('allow'), 'POST, OPTIONS');
    const unsub = await php(gw.url, secret, 'POST', `/api/v1/lists/${listId}/subscribers/${s.id}/unsubscribe`);
    assert.deepEqual([unsub.status, unsub.body], [200, { status: 'unsubscribed' }]);
    assert.equal((await api('GET', `/lists/${listId}/subscribers?subscription=unsubscribed`)).body.count, 1);
    // activate(true): `confirm=1`; pending, and the confirmation message goes out.
    const before = relay.to('cycle@example.com').length;
    const pending = await php(gw.url, secret, 'POST', `/api/v1/lists/${listId}/subscribers/${s.id}/activate`, form({ confirm: true }));
    assert.deepEqual([pending.status, pending.body], [200, { status: 'pending' }]);
    await waitFor('the confirmation message', () => relay.to('cycle@example.com').length > before);
    const confirmation = relay.to('cycle@example.com').at(-1)!;
    const link = /http:\/\/mailgate\.test(\/subscribe\/confirm\/[A-Za-z0-9._~-]+)/.exec(String((await confirmation.parse()).html))?.[1];
    assert.ok(link, 'the message has the confirmation link');
    assert.equal((await fetch(`${gw.url}${link}`)).status, 200);
    assert.equal((await api('GET', `/lists/${listId}/subscribers/${s.id}`)).body.subscription, 'active');
    assert.equal((await api('POST', `/lists/${listId}/subscribers/99999999/activate`)).status, 404);
  });
});

const SEED_PAGE = `<!DOCTYPE html>
<html>
    <body>
        Hello World!
        <img src="images/planet.png" />
    </body>
</html>`;

describe('emailicious: mailings', () => {
  it("creates the seed's mailing from the docs' Python recipe; the delivery sends the page with its image served under PUBLIC_URL", async () => {
    const listId = await newList('Seed list');
    for (const email of ['ann@seed.example', 'bob@seed.example'])
      assert.equal((await api('POST', `/lists/${listId}/subscribers`, { json: { email } })).status, 201);
    const seed = { list: listId, name: 'Mailing', variants: [{ subject: 'Hello World!', deliveries: [{ scheduled_datetime: '2017-05-15T19:30:33Z' }] }] };
    const r = await pythonSeedPost(`${gw.url}/api/v1/mailings`, secret, seed, { page: SEED_PAGE }, path.join(dir, 'planet.png'));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const variant = r.body.variants[0];
    assert.deepEqual(
      { ...r.body, variants: [{ ...variant, layout: { ...variant.layout, id: typeof variant.layout.id } }] },
      {
        id: r.body.id,
        name: 'Mailing',
        list: listId,
        campaign: null,
        segments: [],
        variants: [
          {
            from_name: 'Acme News',
            from_email: 'news@acme.example',
            replyto_email: '',
            subject: 'Hello World!',
            deliveries: [{ exclusions: [], limit: null, scheduled_datetime: '2017-05-15T19:30:33Z' }],
            language: null,
            layout: { id: 'number', source: SEED_PAGE, text: variant.layout.text },
          },
        ],
      },
    );
    // The past scheduled time: the delivery starts at once.
    await waitFor('both subscribers received the mailing', () => relay.to('ann@seed.example').length === 1 && relay.to('bob@seed.example').length === 1);
    const parsed = await relay.to('ann@seed.example')[0]!.parse();
    assert.equal(parsed.subject, 'Hello World!');
    const img = /<img src="(http:\/\/mailgate\.test\/layouts\/[A-Za-z0-9_-]+\/images\/planet\.png)"/.exec(String(parsed.html))?.[1];
    assert.ok(img, `the image reference is rewritten to PUBLIC_URL: ${parsed.html}`);
    const served = await fetch(img.replace('http://mailgate.test', gw.url));
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await served.arrayBuffer()).equals(PNG));
    assert.equal((await fetch(img.replace('http://mailgate.test', gw.url).replace('planet', 'other'))).status, 404);
    // GET one adds each delivery's id, status and totals.
    await waitFor('the delivery is sent', async () => (await api('GET', `/mailings/${r.body.id}`)).body.variants[0].deliveries[0].status === 'sent');
    const one = (await api('GET', `/mailings/${r.body.id}`)).body.variants[0].deliveries[0];
    assert.equal(one.totals.recipients, 2);
    assert.equal(one.totals.delivered, 2);
    assert.equal(typeof one.id, 'number');
  });

  it("takes the same mailing in the PHP client's form and multipart encodings; each language gets its variant", async () => {
    const listId = await newList('Bilingual');
    const people = { 'fr1@bi.example': 'fr', 'fr2@bi.example': '', 'en1@bi.example': 'en', 'de1@bi.example': 'de' };
    for (const [email, language] of Object.entries(people))
      assert.equal((await api('POST', `/lists/${listId}/subscribers`, { json: { email, language } })).status, 201);
    const when = '2015-05-25T16:25'; // the client's tests: no seconds, no zone
    // Form: text only (no html: Mailing::create sends no file).
    const viaForm = await php(
      gw.url,
      secret,
      'POST',
      '/api/v1/mailings',
      form({
        list: listId,
        name: 'Form mailing',
        variants: [
          { language: 'fr', subject: 'Bonjour {{ email }}', deliveries: [{ scheduled_datetime: when }], layout: { text: 'Texte' } },
          { language: 'en', from_name: 'Acme EN', replyto_email: null, subject: 'Hello', deliveries: [{ scheduled_datetime: when }], layout: { text: 'Text' } },
        ],
      }),
    );
    assert.equal(viaForm.status, 201, JSON.stringify(viaForm.body));
    assert.deepEqual(
      viaForm.body.variants.map((v: any) => [v.language, v.from_name, v.subject, v.deliveries[0].scheduled_datetime, v.layout.text]),
      [
        ['fr', 'Acme News', 'Bonjour {{ email }}', '2015-05-25T16:25:00Z', 'Texte'],
        ['en', 'Acme EN', 'Hello', '2015-05-25T16:25:00Z', 'Text'],
      ],
    );
    // French (and no language: the list's default is fr) get the fr variant; en the en one; de nothing.
    await waitFor(
      'the form mailing is delivered',
      () => relay.to('fr1@bi.example').length === 1 && relay.to('fr2@bi.example').length === 1 && relay.to('en1@bi.example').length === 1,
    );
    assert.equal((await relay.to('fr1@bi.example')[0]!.parse()).subject, 'Bonjour fr1@bi.example');
    assert.equal((await relay.to('en1@bi.example')[0]!.parse()).subject, 'Hello');
    assert.deepEqual((await relay.to('en1@bi.example')[0]!.parse()).from?.value, [{ name: 'Acme EN', address: 'news@acme.example' }]);
    assert.equal(relay.to('de1@bi.example').length, 0);

    // Multipart: the client zips its html as email.html and posts it as variants[0]layout.zip_file.
    const archive = await zip({ 'email.html': '<p>Multipart <b>html</b></p>' }, { compress: false });
    const body = phpMultipart(
      {
        list: listId,
        name: 'Multipart mailing',
        campaign: 7,
        variants: [{ language: 'de', subject: 'Hallo', deliveries: [{ scheduled_datetime: '2015-05-25T14:00:00' }], layout: { text: 'Text DE' } }],
      },
      { 'variants[0]layout.zip_file': { filename: 'layout.zip', type: 'application/zip', data: archive } },
    );
    const viaMultipart = await php(gw.url, secret, 'POST', '/api/v1/mailings', body);
    assert.equal(viaMultipart.status, 201, JSON.stringify(viaMultipart.body));
    assert.equal(viaMultipart.body.campaign, 7);
    assert.deepEqual(viaMultipart.body.variants[0].layout.source, '<p>Multipart <b>html</b></p>');
    await waitFor('the multipart mailing is delivered', () => relay.to('de1@bi.example').length === 1);
    const de = await relay.to('de1@bi.example')[0]!.parse();
    assert.deepEqual([de.subject, String(de.html).includes('Multipart <b>html</b>'), de.text?.trim()], ['Hallo', true, 'Text DE']);
    // ?list= narrows the listing.
    const listed = await api('GET', `/mailings?list=${listId}`);
    assert.deepEqual(
      listed.body.results.map((m: any) => [m.name, m.campaign]),
      [
        ['Form mailing', null],
        ['Multipart mailing', 7],
      ],
    );
    assert.equal(listed.headers.get('allow'), 'GET, POST, HEAD, OPTIONS');
  });

  it('works from curl as the README shows it: JSON list, form subscriber, a multipart mailing with the zip as a file', async () => {
    const u = (p: string) => `'${gw.url.replace('://', `://me%40example.org:${secret}@`)}/api/v1${p}'`;
    const list = await curl(
      `curl -H 'Content-Type: application/json' -d '{"name": "Curl", "default_from_email": "news@example.org", "default_language": "fr", "languages": ["fr", "en"]}' ${u('/lists')}`,
    );
    assert.equal(list.status, 201, list.raw);
    const sub = await curl(`curl -d email=ann@curl.example -d language=en -d first_name=Ann ${u(`/lists/${list.body.id}/subscribers`)}`);
    assert.deepEqual([sub.status, sub.body.first_name, sub.body.language], [201, 'Ann', 'en']);
    await writeFile(
      path.join(dir, 'curl.zip'),
      await zip({ 'index.html': '<p>Hi {{ first_name }} <img src="./images/planet.png"></p>', 'images/planet.png': PNG }),
    );
    const m = await curl(
      `curl -F list=${list.body.id} -F name=Curl -F 'variants[0]language=en' -F 'variants[0]subject=Hi' -F 'variants[0]deliveries[0]scheduled_datetime=2020-01-01T00:00' -F 'variants[0]layout.zip_file=@${path.join(dir, 'curl.zip')};type=application/zip' ${u('/mailings')}`,
    );
    assert.equal(m.status, 201, m.raw);
    assert.equal(m.body.variants[0].layout.source, '<p>Hi {{ first_name }} <img src="./images/planet.png"></p>');
    await waitFor('the curl mailing is delivered', () => relay.to('ann@curl.example').length === 1);
    const parsed = await relay.to('ann@curl.example')[0]!.parse();
    assert.match(String(parsed.html), /Hi Ann <img src="http:\/\/mailgate\.test\/layouts\/[A-Za-z0-9_-]+\/images\/planet\.png">/);
  });

  it('pages 250 mailings with absolute next/previous keeping the filter, followed as the PHP client follows them', async () => {
    const listId = await newList('Many mailings');
    for (let i = 0; i < 250; i++) {
      const r = await api('POST', '/mailings', { json: { list: listId, name: `Bulk ${i}`, variants: [{ subject: `S${i}`, layout: { text: 't' } }] } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const first = await api('GET', `/mailings?list=${listId}`);
    assert.equal(first.body.count, 250);
    assert.equal(first.body.results.length, 100);
    assert.equal(first.body.previous, null);
    const next = new URL(first.body.next);
    assert.equal(`${next.protocol}//${next.host}`, gw.url);
    assert.deepEqual([next.pathname, next.searchParams.get('list'), next.searchParams.get('page')], ['/api/v1/mailings', String(listId), '2']);
    const third = await api('GET', `/mailings?list=${listId}&page=3`);
    assert.deepEqual([third.body.results.length, third.body.next], [50, null]);
    assert.equal(new URL(third.body.previous).searchParams.get('page'), '2');
    const two = await api('GET', `/mailings?list=${listId}&page=2`);
    assert.equal(new URL(two.body.previous).searchParams.has('page'), false, 'page 1 is the URL without page');
    const all = await phpAll(gw.url, secret, `mailings?list=${listId}`);
    assert.equal(all.pages, 3);
    assert.deepEqual(
      all.results.map((m) => m.name),
      Array.from({ length: 250 }, (_, i) => `Bulk ${i}`),
    );
    const sized = await api('GET', `/mailings?list=${listId}&page_size=1000`);
    assert.deepEqual([sized.body.results.length, sized.body.next], [250, null]);
    assert.deepEqual([(await api('GET', `/mailings?list=${listId}&page=4`)).status, (await api('GET', `/mailings?list=${listId}&page=0`)).status], [404, 404]);
  });

  it('refuses every bad zip with 400 naming the field, and stores nothing', async () => {
    const listId = await newList('Zips');
    const count = await mailingCount();
    const post = (zipFile: string) =>
      api('POST', '/mailings', {
        json: {
          list: listId,
          name: `Zip ${Math.random()}`,
          variants: [
            { subject: 'x', layout: { text: 'ok' } },
            { language: 'en', subject: 'y', layout: { zip_file: zipFile } },
          ],
        },
      });
    const refused = async (zipFile: string, message: RegExp) => {
      const r = await post(zipFile);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body), ['variants']);
      assert.deepEqual(r.body.variants[0], {}, 'the good variant has no errors');
      assert.match(r.body.variants[1].layout.zip_file[0], message);
    };
    await refused(dataUri(Buffer.from('this is not a zip')), /not a zip archive/);
    await refused(dataUri(await zip({ 'site/index.html': '<p>x</p>' })), /no page/);
    const up = await zip({ 'index.html': '<p>x</p>', 'aa/evil.png': PNG });
    await refused(dataUri(Buffer.from(up.toString('latin1').replaceAll('aa/evil.png', '../evil.png'), 'latin1')), /outside the archive's root/);
    const many = Object.fromEntries([['index.html', '<p>x</p>'], ...Array.from({ length: 200 }, (_, i) => [`images/i${i}.png`, PNG])]);
    await refused(dataUri(await zip(many)), /201 entries, more than 200/);
    await refused(dataUri(await zip({ 'index.html': '<p>x</p>', 'images/bomb.png': Buffer.alloc(20 * 1024 * 1024 + 1) })), /more than 20 MiB/);
    await refused('data:application/zip;base64,@@@', /not a file/);
    const wrong = await api('POST', '/mailings', {
      json: { list: listId, name: 'Bad', variants: [{ subject: '', deliveries: [{ scheduled_datetime: 'tomorrow', limit: 0 }] }] },
    });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, {
      variants: [
        {
          subject: ['This field may not be blank.'],
          deliveries: [
            {
              scheduled_datetime: ['Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].'],
              limit: ['Ensure this value is greater than or equal to 1.'],
            },
          ],
        },
      ],
    });
    assert.deepEqual((await api('POST', '/mailings', { json: { name: 'No list', variants: [] } })).body, {
      list: ['This field is required.'],
      variants: ['This list may not be empty.'],
    });
    assert.deepEqual((await api('POST', '/mailings', { json: { list: 999999, name: 'x', variants: [{ subject: 's', layout: { text: 't' } }] } })).body, {
      list: ['Invalid pk "999999" - object does not exist.'],
    });
    const dupName = await api('POST', '/mailings', { json: { list: listId, name: 'Twice', variants: [{ subject: 's', layout: { text: 't' } }] } });
    assert.equal(dupName.status, 201);
    const twice = await api('POST', '/mailings', { json: { list: listId, name: 'Twice', variants: [{ subject: 's', layout: { text: 't' } }] } });
    assert.deepEqual([twice.status, twice.body], [400, { name: ['mailing with this name already exists.'] }]);
    assert.equal(await mailingCount(), count + 1, 'only the good mailing was stored');
    const malformed = await api('POST', '/mailings', { body: '{"list": 1,', type: 'application/json' });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.detail, /^JSON parse error/);
  });
});

describe('emailicious: the REST framework around it', () => {
  it('answers 401 as the docs show, OPTIONS with the resource, 405 with Allow, 404 as DRF', async () => {
    const none = await call(gw.url, null, 'GET', '/api/v1/lists');
    assert.deepEqual(
      [none.status, none.headers.get('www-authenticate'), none.body],
      [401, 'Basic realm="api"', { detail: 'Authentication credentials were not provided.' }],
    );
    const wrong = await call(gw.url, 'not-a-key', 'GET', '/api/v1/lists');
    assert.deepEqual([wrong.status, wrong.headers.get('www-authenticate'), wrong.body], [401, 'Basic realm="api"', { detail: 'Invalid username/password.' }]);
    const options = await api('OPTIONS', '/lists/1/subscribers');
    assert.equal(options.status, 200);
    assert.deepEqual(options.body.parses, ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
    assert.deepEqual(options.body.actions.POST.email, { type: 'email', required: true, read_only: false, label: 'Email', max_length: 254 });
    const notAllowed = await api('DELETE', '/mailings');
    assert.deepEqual(
      [notAllowed.status, notAllowed.headers.get('allow'), notAllowed.body],
      [405, 'GET, POST, HEAD, OPTIONS', { detail: 'Method "DELETE" not allowed.' }],
    );
    assert.deepEqual([(await api('GET', '/lists/abc')).status, (await api('GET', '/nothing')).body], [404, { detail: 'Not found.' }]);
    const head = await api('HEAD', '/lists');
    assert.equal(head.status, 200);
    const root = await api('GET', '');
    assert.deepEqual(root.body, { lists: `${gw.url}/api/v1/lists`, mailings: `${gw.url}/api/v1/mailings` });
    const unsupported = await api('POST', '/lists', { body: 'name=x', type: 'text/plain' });
    assert.equal(unsupported.status, 415);
  });

  it("answers with the seed's headers and a Content-Length, no ETag (the service sends none); HEAD with GET's headers and no body", async () => {
    const created = await api('POST', '/lists', {
      json: { name: 'Headers', default_from_name: 'Acme News', default_from_email: 'news@acme.example', default_language: 'fr', languages: ['fr'] },
    });
    const listed = await api('GET', '/lists?page_size=1');
    for (const [r, status] of [
      [created, 201],
      [listed, 200],
    ] as const) {
      assert.equal(r.status, status);
      assert.deepEqual(
        [r.headers.get('content-type'), r.headers.get('allow'), r.headers.get('vary'), r.headers.get('etag')],
        ['application/json; charset=utf-8', 'GET, POST, HEAD, OPTIONS', 'Accept', null],
      );
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(JSON.stringify(r.body)));
    }
    const head = await fetch(`${gw.url}/api/v1/lists?page_size=1`, { method: 'HEAD', headers: { authorization: basic(secret) } });
    assert.deepEqual(
      [head.status, head.headers.get('content-type'), head.headers.get('content-length'), head.headers.get('etag'), await head.text()],
      [200, 'application/json; charset=utf-8', listed.headers.get('content-length'), null, ''],
    );
    // A request id the client gives comes back (cut to 100 characters); else one is made per request.
    const given = await fetch(`${gw.url}/api/v1/lists`, { headers: { authorization: basic(secret), 'x-request-id': `r-${'x'.repeat(200)}` } });
    assert.equal(given.headers.get('x-request-id'), `r-${'x'.repeat(98)}`);
    const made = [listed.headers.get('x-request-id'), head.headers.get('x-request-id')];
    assert.ok(made.every((id) => id && /^[0-9a-f-]{36}$/.test(id)) && made[0] !== made[1], String(made));
  });

  it('answers malformed bodies and parameters with 400/404 and keeps serving', async () => {
    const listId = await newList('Malformed');
    const count = await mailingCount();
    const noBoundary = await api('POST', '/mailings', { body: 'x', type: 'multipart/form-data' });
    assert.equal(noBoundary.status, 400);
    assert.match(noBoundary.body.detail, /^Multipart form parse error/);
    const truncated = await api('POST', '/mailings', {
      body: '--b\r\nContent-Disposition: form-data; name="list"\r\n\r\n1',
      type: 'multipart/form-data; boundary=b',
    });
    assert.equal(truncated.status, 400);
    const badKey = await api('POST', '/mailings', { body: 'list=1&variants%5B0=x', type: 'application/x-www-form-urlencoded' });
    assert.deepEqual([badKey.status, typeof badKey.body.detail], [400, 'string']);
    const proto = await api('POST', '/mailings', { body: '__proto__.polluted=1', type: 'application/x-www-form-urlencoded' });
    assert.equal(proto.status, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const types = await api('POST', '/mailings', { json: { list: 'abc', name: ['a', 'b'], segments: 'x', variants: 'nope' } });
    assert.deepEqual(
      [types.status, types.body.list, types.body.segments, types.body.variants],
      [400, ['A valid integer is required.'], ['A valid integer is required.'], ['Invalid data. Expected a dictionary.']],
    );
    const file = await api('POST', '/mailings', { json: { list: listId, name: 'f', variants: [{ subject: 's', layout: { zip_file: 'not a data uri' } }] } });
    assert.deepEqual(file.body, { variants: [{ layout: { zip_file: ['The submitted data was not a file. Check the encoding type on the form.'] } }] });
    assert.equal((await api('GET', '/mailings?page=99999999999999999999')).status, 404);
    assert.equal((await api('GET', '/mailings?list=abc')).status, 400);
    assert.equal((await api('POST', '/lists', { json: ['a list'] })).status, 400);
    // Null characters, as DRF's CharField answers them (Postgres could not store them either).
    const nul = await api('POST', '/mailings', { json: { list: listId, name: 'n\u0000', variants: [{ subject: 's\u0000', layout: { text: 't\u0000' } }] } });
    assert.deepEqual(
      [nul.status, nul.body],
      [
        400,
        {
          name: ['Null characters are not allowed.'],
          variants: [{ subject: ['Null characters are not allowed.'], layout: { text: ['Null characters are not allowed.'] } }],
        },
      ],
    );
    const nulSub = await api('POST', `/lists/${listId}/subscribers`, {
      body: 'email=nul%40example.com&first_name=a%00b&shoe=c%00',
      type: 'application/x-www-form-urlencoded',
    });
    assert.deepEqual([nulSub.status, nulSub.body], [400, { first_name: ['Null characters are not allowed.'], shoe: ['Null characters are not allowed.'] }]);
    assert.equal((await api('GET', `/lists/${listId}/subscribers?email=nul%40example.com`)).body.count, 0);
    assert.equal(await mailingCount(), count);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it("never shows or changes another account's objects, on any endpoint", async () => {
    const listId = await newList('Private');
    const sub = (await api('POST', `/lists/${listId}/subscribers`, { json: { email: 'private@acme.example' } })).body;
    const mailing = (await api('POST', '/mailings', { json: { list: listId, name: 'Private mailing', variants: [{ subject: 's', layout: { text: 't' } }] } }))
      .body;
    const as = (method: string, p: string, json?: unknown): Promise<Reply> => call(gw.url, other, method, `/api/v1${p}`, json === undefined ? {} : { json });
    const attempts: [string, string, unknown?][] = [
      ['GET', `/lists/${listId}`],
      ['PUT', `/lists/${listId}`, { name: 'stolen' }],
      ['PATCH', `/lists/${listId}`, { name: 'stolen' }],
      ['DELETE', `/lists/${listId}`],
      ['GET', `/lists/${listId}/subscribers`],
      ['POST', `/lists/${listId}/subscribers`, { email: 'intruder@globex.example' }],
      ['GET', `/lists/${listId}/subscribers/${sub.id}`],
      ['PUT', `/lists/${listId}/subscribers/${sub.id}`, { email: 'x@globex.example' }],
      ['PATCH', `/lists/${listId}/subscribers/${sub.id}`, { first_name: 'x' }],
      ['DELETE', `/lists/${listId}/subscribers/${sub.id}`],
      ['POST', `/lists/${listId}/subscribers/${sub.id}/activate`],
      ['POST', `/lists/${listId}/subscribers/${sub.id}/unsubscribe`],
      ['GET', `/mailings/${mailing.id}`],
    ];
    for (const [method, p, json] of attempts) assert.equal((await as(method, p, json)).status, 404, `${method} ${p}`);
    const post = await as('POST', '/mailings', { list: listId, name: 'Into another list', variants: [{ subject: 's', layout: { text: 't' } }] });
    assert.deepEqual([post.status, post.body], [400, { list: [`Invalid pk "${listId}" - object does not exist.`] }]);
    assert.deepEqual([(await as('GET', '/lists')).body.count, (await as('GET', '/mailings')).body.count], [0, 0]);
    assert.deepEqual([(await as('GET', `/mailings?list=${listId}`)).body.count], [0]);
    const mine = (await api('GET', `/lists/${listId}/subscribers/${sub.id}`)).body;
    assert.deepEqual([mine.subscription, mine.email, (await api('GET', `/lists/${listId}`)).body.name], ['active', 'private@acme.example', 'Private']);
    // The image URLs need no key; an unknown key is 404.
    assert.equal((await fetch(`${gw.url}/layouts/unknown/images/planet.png`)).status, 404);
  });
});
