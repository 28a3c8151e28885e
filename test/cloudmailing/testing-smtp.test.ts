/**
 * CloudMailing `testing` mailings and TESTING_SMTP_URL: the original sent a testing mailing to its fake SMTP
 * server (TEST_TARGET_IP / TEST_TARGET_PORT, `cloud_mailing/satellite/mailing_sender.py`), and its acceptance
 * suite's test_run_mailing counts that server's refusals: 7 recipients, 5 sent, 2 in error. Here the same
 * test (Python's xmlrpc.client, the original's calls and property values) runs against a gateway whose
 * TESTING_SMTP_URL is a real SMTP server on 127.0.0.1 refusing two addresses, beside a real relay (SMTP_URL)
 * that must see none of it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runProcess } from '../support/process.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const FIXTURE = path.join(import.meta.dirname, 'acceptance', 'data', 'email.rfc822');
const DOMAIN = 'unittest.cloud-mailing.net';

/** test_run_mailing's recipients (on example domains): the last two are refused by the testing server. */
const ACCEPTED = [
  'ricard_cedric@hotmail.example',
  'ricard@free.example',
  'ricard33+cm@gmail.example',
  'ricard@calexium.example',
  'cedric.ricard@calexium.example',
];
/** FakeSMTPD refuses an address holding "error" (`550 Unknown recipient`); the bad domain failed in the original's MX lookup. */
const REFUSED_UNKNOWN = 'cant_exist_email_for_error@calexium.example';
const REFUSED_DOMAIN = 'cedric@verybaddomainsisijesuissur.example';

let testing: TestSmtpServer;
let relay: TestSmtpServer;
let gw: TestGateway;

before(async () => {
  testing = await startTestSmtpServer();
  testing.reply = (address) =>
    address.includes('error')
      ? { code: 550, text: `Unknown recipient ${address}` }
      : address.endsWith('@verybaddomainsisijesuissur.example')
        ? { code: 550, text: '5.1.2 bad destination system: no such domain' }
        : undefined;
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, TESTING_SMTP_URL: testing.url } });
});

after(async () => {
  await gw?.stop();
  await relay?.close();
  await testing?.close();
});

/** The original's test_run_mailing (deployment/acceptance_tests/cm_tests.py) for Python 3, less its DKIM key. */
const RUN_MAILING = `
import base64, json, sys, time, xmlrpc.client
url, fixture, domain = sys.argv[1:4]
recipients = json.loads(sys.argv[4])
rpc = xmlrpc.client.ServerProxy(url)
with open(fixture, 'rb') as f:
    mailing_id = rpc.create_mailing_ext(base64.b64encode(f.read()))
results = rpc.add_recipients(mailing_id, [{'email': e} for e in recipients])
assert all('error' not in r for r in results), results
assert rpc.list_mailings(domain)[-1]['total_recipient'] == 7
rpc.set_mailing_properties(mailing_id, {'scheduled_duration': 3, 'testing': True})
rpc.start_mailing(mailing_id)
rpc.mailing_manager_force_check()
rpc.update_statistics()
mailing = rpc.list_mailings(domain)[-1]
t0 = time.time()
while mailing['total_pending'] > 0:
    assert mailing['status'] in ('READY', 'RUNNING'), mailing['status']
    assert time.time() - t0 < 120
    time.sleep(0.1)
    mailing = rpc.list_mailings(domain)[-1]
print(json.dumps({k: mailing[k] for k in ('id', 'total_recipient', 'total_pending', 'total_sent', 'total_error')}))
`;

describe('cloudmailing: testing mailings go to TESTING_SMTP_URL', () => {
  it("test_run_mailing, as the original suite runs it: 5 sent, 2 errors, counted from the testing server's replies", async () => {
    const url = `${gw.url.replace('://', `://admin:${gw.key.secret}@`)}/CloudMailing`;
    const recipients = [...ACCEPTED, REFUSED_UNKNOWN, REFUSED_DOMAIN];
    const r = await runProcess('python3', ['-c', RUN_MAILING, url, FIXTURE, DOMAIN, JSON.stringify(recipients)], { timeoutMs: 150_000 });
    assert.equal(r.code, 0, r.stderr);
    const totals = JSON.parse(r.stdout) as Record<string, number>;
    assert.deepEqual(totals, { id: totals.id, total_recipient: 7, total_pending: 0, total_sent: 5, total_error: 2 });

    // Every accepted recipient's message is at the testing server, once; none reached the relay.
    assert.deepEqual(testing.messages.flatMap((m) => m.to).sort(), [...ACCEPTED].sort());
    for (const m of testing.messages) assert.equal(m.header('X-Mailgate-Mailing'), String(totals.id));
    assert.equal(relay.messages.length, 0, 'a testing mailing never goes to a relay');

    // The refusals are the recipients' outcomes, as the testing server worded them.
    const { rows } = await gw.pool.query<{ email: string; status: string; reply_code: number; reply_text: string }>(
      "SELECT email, status, reply_code, reply_text FROM recipients WHERE mailing_id = $1 AND status <> 'finished' ORDER BY email",
      [totals.id],
    );
    assert.deepEqual(
      rows.map((x) => [x.email, x.status, x.reply_code]),
      [
        [REFUSED_UNKNOWN, 'error', 550],
        [REFUSED_DOMAIN, 'error', 550],
      ],
    );
    assert.match(rows.find((x) => x.email === REFUSED_UNKNOWN)!.reply_text, /Unknown recipient/);
    // A fake server's refusal says nothing of the real mailbox: even a 5.1.2 suppresses nobody.
    const suppressions = await gw.pool.query('SELECT email_key FROM suppressions');
    assert.deepEqual(suppressions.rows, []);
  });

  it('a mailing that is not testing still goes to the relay', async () => {
    const ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
    const id = await gw.core.mailings.create(ctx, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Real', html: '<p>real</p>' });
    await gw.core.recipients.add(ctx, id, [{ email: 'real@example.org', fields: {} }]);
    await gw.core.mailings.start(ctx, id);
    await waitFor('the mailing finished', async () => (await gw.core.mailings.get(ctx, id)).status === 'finished', 30_000);
    assert.deepEqual(
      relay.messages.map((m) => m.to),
      [['real@example.org']],
    );
    assert.equal(testing.to('real@example.org').length, 0);
  });

  it('TESTING_SMTP_URL is one smtp:// or smtps:// URL, refused otherwise when the configuration is read', () => {
    assert.equal(loadConfig({ TESTING_SMTP_URL: 'smtp://127.0.0.1:33625' }).TESTING_SMTP_URL, 'smtp://127.0.0.1:33625');
    assert.equal(loadConfig({}).TESTING_SMTP_URL, undefined);
    for (const bad of ['127.0.0.1:33625', 'http://127.0.0.1:33625', 'smtp://a:25,smtp://b:25'])
      assert.throws(
        () => loadConfig({ TESTING_SMTP_URL: bad }),
        (e: unknown) => e instanceof ConfigError && /TESTING_SMTP_URL/.test(e.message),
        bad,
      );
  });
});
