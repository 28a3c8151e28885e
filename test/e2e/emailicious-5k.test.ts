/**
 * Issue 15's "done when": a list of 5,000 subscribers in two languages (imported with `mailgate import`)
 * receives a two-variant mailing created by the seed's request (zips made by the docs' Python recipe, sent by
 * `requests`); every subscriber gets the variant of its language through the real pipeline and a real SMTP
 * server, and the mailing's totals read the same through Emailicious REST, CloudMailing `list_mailings`
 * (Python's xmlrpc.client) and Mailkit `mailkit.report.campaign` (JSON, urllib).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { PNG, call, pythonSeedPost } from '../emailicious/client.js';

const root = path.resolve(import.meta.dirname, '../..');
const FR = 3000;
const EN = 2000;
let gw: TestGateway;
let relay: TestSmtpServer;
let dir: string;

const OTHER_APIS = `
import json, sys, urllib.request, xmlrpc.client
url, secret, key_id, mailing = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cm = xmlrpc.client.ServerProxy(url.replace("://", "://admin:%s@" % secret) + "/CloudMailing")
listed = cm.list_mailings({"id": [mailing]})
body = json.dumps({"function": "mailkit.report.campaign", "id": key_id, "md5": secret, "parameters": {"ID_message": str(mailing)}}).encode()
req = urllib.request.Request(url + "/json.fcgi", data=body, headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    report = json.loads(r.read().decode())
print(json.dumps({"cloudmailing": listed, "mailkit": report}, default=str))
`;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-e2e-emailicious-'));
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('e2e: an Emailicious two-language mailing to 5,000 subscribers', () => {
  it('sends each language its variant, with the same totals through REST, CloudMailing and Mailkit', async () => {
    const secret = gw.key.secret;
    const list = await call(gw.url, secret, 'POST', '/api/v1/lists', {
      json: { name: 'Clients', default_from_name: 'Boutique', default_from_email: 'boutique@shop.example', default_language: 'fr', languages: ['fr', 'en'] },
    });
    assert.equal(list.status, 201);
    const lines = ['email,first_name,language'];
    for (let i = 0; i < FR; i++) lines.push(`fr${i}@clients.example,Client${i},fr`);
    for (let i = 0; i < EN; i++) lines.push(`en${i}@clients.example,Customer${i},en`);
    await writeFile(path.join(dir, 'clients.csv'), lines.join('\n') + '\n');
    await writeFile(path.join(dir, 'planet.png'), PNG);
    const imported = await runProcess(
      process.execPath,
      [path.join(root, 'bin/mailgate.js'), 'import', String(list.body.id), path.join(dir, 'clients.csv'), '--account', 'acme', '--json'],
      {
        env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' },
        timeoutMs: 120_000,
      },
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal((await call(gw.url, secret, 'GET', `/api/v1/lists/${list.body.id}/subscribers?subscription=active&page_size=1`)).body.count, FR + EN);

    // The seed's request, with a variant per language.
    const seed = {
      list: list.body.id,
      name: 'Mailing',
      variants: [
        { language: 'fr', subject: 'Bonjour {{ first_name }} !', deliveries: [{ scheduled_datetime: '2017-05-15T19:30:33Z' }] },
        { language: 'en', subject: 'Hello {{ first_name }}!', deliveries: [{ scheduled_datetime: '2017-05-15T19:30:33Z' }] },
      ],
    };
    const pages = {
      fr: '<!DOCTYPE html>\n<html><body>Bonjour {{ first_name }} ! <img src="images/planet.png" /></body></html>',
      en: '<!DOCTYPE html>\n<html><body>Hello {{ first_name }}! <img src="images/planet.png" /></body></html>',
    };
    const created = await pythonSeedPost(`${gw.url}/api/v1/mailings`, secret, seed, pages, path.join(dir, 'planet.png'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;

    await waitFor(`${FR + EN} messages received`, () => relay.messages.length >= FR + EN, 300_000, 200);
    await waitFor(
      'both deliveries finished',
      async () => (await call(gw.url, secret, 'GET', `/api/v1/mailings/${id}`)).body.variants.every((v: any) => v.deliveries[0].status === 'sent'),
      60_000,
      200,
    );
    assert.equal(relay.messages.length, FR + EN, 'every subscriber exactly once');
    const byAddress = new Map(relay.messages.map((m) => [m.to[0]!, m]));
    assert.equal(byAddress.size, FR + EN);
    for (const [who, subject] of [
      ['fr17@clients.example', 'Bonjour Client17 !'],
      ['fr2999@clients.example', 'Bonjour Client2999 !'],
      ['en0@clients.example', 'Hello Customer0!'],
      ['en1999@clients.example', 'Hello Customer1999!'],
    ] as const) {
      const parsed = await byAddress.get(who)!.parse();
      assert.equal(parsed.subject, subject);
      assert.match(String(parsed.html), /<img src="http:\/\/mailgate\.test\/layouts\/[A-Za-z0-9_-]+\/images\/planet\.png"/);
    }
    const subjects = relay.messages.map((m) => m.header('subject') ?? '');
    assert.equal(subjects.filter((s) => s.startsWith('Bonjour')).length, FR);
    assert.equal(subjects.filter((s) => s.startsWith('Hello')).length, EN);

    // Emailicious REST: each delivery's totals.
    const rest = (await call(gw.url, secret, 'GET', `/api/v1/mailings/${id}`)).body;
    const deliveries = rest.variants.map((v: any) => ({ language: v.language, id: v.deliveries[0].id, ...v.deliveries[0].totals }));
    assert.deepEqual(
      deliveries.map((d: any) => [d.language, d.recipients, d.sent, d.delivered, d.failed]),
      [
        ['fr', FR, FR, FR, 0],
        ['en', EN, EN, EN, 0],
      ],
    );
    // CloudMailing and Mailkit, as their clients call them.
    const r = await runProcess('python3', ['-c', OTHER_APIS, gw.url, secret, String(gw.key.id), String(id)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const { cloudmailing, mailkit } = JSON.parse(r.stdout);
    assert.equal(cloudmailing.length, 1);
    assert.deepEqual(
      [
        cloudmailing[0].id,
        cloudmailing[0].status,
        cloudmailing[0].total_recipient,
        cloudmailing[0].total_sent,
        cloudmailing[0].total_error,
        cloudmailing[0].total_pending,
      ],
      [id, 'FINISHED', FR + EN, FR + EN, 0, 0],
    );
    const rows = Array.isArray(mailkit) ? mailkit : Object.values(mailkit);
    assert.deepEqual(
      rows.map((row: any) => [Number(row.ID_SEND), Number(row.SEND_COUNT), Number(row.DELIVERED_COUNT)]),
      deliveries.map((d: any) => [d.id, d.sent, d.delivered]),
      'one Mailkit row per delivery (ID_send), with the REST totals',
    );
  });
});
