/**
 * The original CloudMailing server's acceptance flows (acceptance/flows.py, Python's own xmlrpc.client over
 * HTTPS, connecting as the original suite does) against a real gateway with its worker and a real relay, then
 * what only the server's side can show: the relayed messages are DKIM-signed (verified with mailauth, the
 * key answered by a resolver of our own, no DNS) and personalized part by part; `testing` mailings stay in the
 * built-in capture and never reach the relay; the relay received nothing twice.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { runProcess, selfSignedCertificate, type ProcessResult } from '../support/process.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type ReceivedMessage, type TestSmtpServer } from '../support/smtp.js';

const HERE = path.join(import.meta.dirname, 'acceptance');
const FLOWS = path.join(HERE, 'flows.py');
const FIXTURE = path.join(HERE, 'data', 'email.rfc822');
/** The two addresses flows.py expects the relay to refuse (its REFUSED). */
const REFUSED = ['no-such-mailbox@calexium.example', 'postmaster@unknown-domain-for-tests.example'];
const PYTHON_TIMEOUT_MS = 280_000;
const PUBLIC_URL = 'http://mailgate.test';

interface Person {
  email: string;
  firstname?: string;
  lastname?: string;
}
interface Flow {
  id: number;
  recipients: Person[];
}
/** The JSON line flows.py writes: which mailing each flow made. */
interface FlowIds {
  refused: string[];
  create_mailing: number[];
  run_mailing: Flow & { dkim: { selector: string; domain: string } };
  send_test: Flow;
  big: { ids: number[]; per_mailing: number };
  full_reports: Flow;
  seed: { id: number; count: number };
  cursor: Flow;
  testing_only: Flow;
}

let dir: string;
let relay: TestSmtpServer;
let gw: TestGateway;
let dkimPublicKey: string;
let ids: FlowIds | undefined;

const mailingOf = (m: ReceivedMessage) => Number(m.header('X-Mailgate-Mailing'));

function flowIds(): FlowIds {
  assert.ok(ids, 'flows.py wrote no ids (see the first test)');
  return ids;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-acceptance-'));
  const tls = selfSignedCertificate(dir);
  // The original's fixture key was made by opendkim-genkey: PKCS#1 PEM, as here.
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(path.join(dir, 'mail.private'), pair.privateKey.export({ type: 'pkcs1', format: 'pem' }));
  dkimPublicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  relay = await startTestSmtpServer();
  for (const a of REFUSED) relay.reject550.add(a);
  gw = await startTestGateway({
    worker: true,
    env: {
      TLS_CERT_FILE: tls.cert,
      TLS_KEY_FILE: tls.key,
      SMTP_URL: relay.url,
      RETRY_BASE_SECONDS: '0.5',
      LOG_LEVEL: 'silent',
      PUBLIC_URL,
    },
  });
});

after(async () => {
  await gw?.stop();
  await relay?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("cloudmailing: the original server's acceptance flows", () => {
  // flows.py runs once, before the tests: the first judges its run, the others what it left on the server's side.
  let flows: ProcessResult;
  before(async () => {
    const idsFile = path.join(dir, 'ids.json');
    flows = await runProcess(
      'python3',
      [
        FLOWS,
        '--ip',
        '127.0.0.1',
        '--port',
        new URL(gw.url).port,
        `--api-key=${gw.key.secret}`,
        '--data-dir',
        path.dirname(FIXTURE),
        '--dkim-key',
        path.join(dir, 'mail.private'),
        '--ids-out',
        idsFile,
        // Its polls (for a mailing to finish, a feed to fill) look again after a tenth of a second, not half.
        '--poll',
        '0.1',
        '-v',
      ],
      { env: { PYTHONDONTWRITEBYTECODE: '1' }, timeoutMs: PYTHON_TIMEOUT_MS },
    );
    if (flows.code === 0) ids = JSON.parse((await readFile(idsFile, 'utf8')).trim()) as FlowIds;
  });

  it('flows.py passes against the gateway over https', (t) => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = flows;
    for (const line of r.stderr.trim().split('\n')) if (/ \.\.\. |^Ran |^OK|^FAILED/.test(line)) t.diagnostic(line);
    assert.equal(r.code, 0, `flows.py failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`);
    assert.equal(r.stdout, '', "flows.py prints nothing but unittest's report (on stderr)");
    assert.ok(ids, 'flows.py wrote its ids');
    assert.deepEqual([...ids.refused].sort(), [...REFUSED].sort(), 'flows.py and this file agree on the refused addresses');
  });

  it('test_run_mailing: each accepted recipient got one DKIM-signed, personalized message', async () => {
    const flow = flowIds().run_mailing;
    const fixture = await readFile(FIXTURE);
    const logo = /Content-ID: <logo[^>]*>[\s\S]*?\n\n([A-Za-z0-9+/=\n]+)\n--/.exec(fixture.toString('utf8'))![1]!;
    const txtName = `${flow.dkim.selector}._domainkey.${flow.dkim.domain}`;
    const resolver = (name: string, rrtype: string): Promise<string[][]> =>
      rrtype === 'TXT' && name.toLowerCase() === txtName
        ? Promise.resolve([[`v=DKIM1; k=rsa; p=${dkimPublicKey}`]])
        : Promise.reject(Object.assign(new Error(`no ${rrtype} record for ${name} in this test`), { code: 'ENOTFOUND' }));

    const accepted = flow.recipients.filter((p) => !REFUSED.includes(p.email));
    assert.equal(accepted.length, 5);
    for (const address of REFUSED) assert.equal(relay.to(address).length, 0, `${address} was refused, nothing stored`);
    const ofRun = relay.messages.filter((m) => mailingOf(m) === flow.id);
    assert.deepEqual(ofRun.map((m) => m.to.join(',')).sort(), accepted.map((p) => p.email).sort());

    // A control: the same signature does not verify against another key, so the pass below is earned.
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const control = await dkimVerify(ofRun[0]!.raw, { resolver: () => Promise.resolve([[`v=DKIM1; k=rsa; p=${otherKey}`]]) });
    assert.notEqual(control.results[0]?.status.result, 'pass');

    for (const p of accepted) {
      const [m] = ofRun.filter((x) => x.to.includes(p.email));
      assert.ok(m, p.email);
      const dkim = await dkimVerify(m.raw, { resolver });
      const sig = dkim.results.find((x) => x.signingDomain === flow.dkim.domain);
      assert.ok(sig, `${p.email}: a DKIM signature of ${flow.dkim.domain} (${JSON.stringify(dkim.results.map((x) => x.info))})`);
      assert.equal(sig.selector, flow.dkim.selector);
      assert.equal(sig.status.result, 'pass', `${p.email}: DKIM ${sig.info} ${sig.status.comment ?? ''}`);

      const mail = await m.parse();
      const first = p.firstname ?? '';
      const last = p.lastname ?? '';
      const squeeze = (v: string) => v.replace(/\s+/g, ' ').trim();
      assert.equal(squeeze(mail.subject ?? ''), squeeze(`Weekly news for ${first} ${last}`), `${p.email}: subject`);
      assert.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined, p.email);
      assert.equal(mail.from?.value[0]?.address, 'my-mailing@unittest.cloud-mailing.net');
      assert.equal(mail.from?.value[0]?.name, 'Élodie Marchand');

      // The unsubscribe link: the one of List-Unsubscribe, in the text and in the html.
      const link = /<(https?:\/\/[^>]+)>/.exec(m.header('List-Unsubscribe') ?? '')?.[1];
      assert.ok(link?.startsWith(`${PUBLIC_URL}/`), `${p.email}: List-Unsubscribe ${m.header('List-Unsubscribe')}`);

      const text = mail.text ?? '';
      assert.ok(text.includes(`*Bonjour*${first} ${last},`), `${p.email}: text part greets the recipient:\n${text}`);
      assert.ok(text.includes(`_cliquez ici <${link}>_.`), `${p.email}: text part holds the unsubscribe link:\n${text}`);
      assert.ok(text.includes('L’ordre du jour de la réunion de l’équipe « produit »'), `${p.email}: 8bit UTF-8 text intact`);
      assert.ok(!text.includes('{{'), `${p.email}: no placeholder left in the text`);

      const html = typeof mail.html === 'string' ? mail.html : '';
      assert.ok(
        html.includes(`<b>Bonjour</b> ${first} ${last},`),
        `${p.email}: html part (quoted-printable, a placeholder split by a soft break) greets the recipient:\n${html}`,
      );
      assert.ok(html.includes(`href="${link}"`), `${p.email}: html part holds the unsubscribe link`);
      assert.ok(html.includes('préparation du salon d’automne'), `${p.email}: html text intact`);
      assert.ok(!html.includes('{{'), `${p.email}: no placeholder left in the html`);

      // The related image is still there, same bytes, same Content-ID.
      const image = mail.attachments.find((a) => a.contentType === 'image/png');
      assert.ok(image, `${p.email}: the inline image`);
      assert.equal(image.cid, 'logo.3f7a91@unittest.cloud-mailing.net');
      assert.equal(image.content.toString('base64'), logo.replace(/\n/g, ''));
    }
  });

  it('the seed guide mailing reached the relay whole, at full speed despite scheduled_duration 1440', () => {
    const { seed } = flowIds();
    const ofSeed = relay.messages.filter((m) => mailingOf(m) === seed.id);
    assert.equal(ofSeed.length, seed.count);
    assert.equal(new Set(ofSeed.map((m) => m.to.join(','))).size, seed.count);
  });

  it('testing mailings are in the capture, and none of their messages reached the relay', async () => {
    const f = flowIds();
    const expected = new Map<number, number>([
      [f.send_test.id, f.send_test.recipients.length],
      [f.full_reports.id, f.full_reports.recipients.length],
      [f.cursor.id, f.cursor.recipients.length],
      [f.testing_only.id, f.testing_only.recipients.length],
      ...f.big.ids.map((id) => [id, f.big.per_mailing] as [number, number]),
    ]);
    // The mailing of each captured message, read from its X-Mailgate-Mailing header.
    const { rows } = await gw.pool.query<{ mailing_id: number | null; envelope_to: string[]; message_id: string | null }>(
      `SELECT (regexp_match(encode(substring(raw from 1 for 16384), 'escape'), $1, 'i'))[1]::bigint AS mailing_id,
              envelope_to, message_id
         FROM captured_messages`,
      ['\nX-Mailgate-Mailing:[ \t]*([0-9]+)'],
    );
    const captured = new Map<number, typeof rows>();
    for (const r of rows) {
      assert.ok(r.mailing_id, `a captured message without X-Mailgate-Mailing (${r.message_id})`);
      captured.set(r.mailing_id, [...(captured.get(r.mailing_id) ?? []), r]);
    }
    for (const [id, count] of expected) {
      const mine = captured.get(id) ?? [];
      assert.equal(mine.length, count, `mailing ${id}: captured messages`);
      assert.equal(new Set(mine.map((r) => r.envelope_to.join(','))).size, count, `mailing ${id}: one message per recipient`);
      assert.equal(new Set(mine.map((r) => r.message_id)).size, count, `mailing ${id}: distinct Message-IDs`);
    }
    for (const p of [...f.cursor.recipients, ...f.testing_only.recipients]) assert.equal(relay.to(p.email).length, 0, `${p.email} is not at the relay`);
    for (const id of captured.keys()) assert.ok(expected.has(id), `mailing ${id} was captured though it is not a testing mailing`);

    const relayed = new Set(relay.messages.map(mailingOf));
    for (const id of expected.keys()) assert.ok(!relayed.has(id), `testing mailing ${id} reached the relay`);
    // Mailings never started send nothing anywhere.
    for (const id of f.create_mailing) assert.ok(!relayed.has(id) && !captured.has(id), `mailing ${id} was never started`);
    assert.deepEqual([...relayed].sort(), [f.run_mailing.id, f.seed.id].sort(), 'only the two real mailings reached the relay');
  });

  it('the relay received nothing twice', () => {
    const f = flowIds();
    assert.equal(relay.messages.length, 5 + f.seed.count);
    const ids = relay.messages.map((m) => m.header('Message-ID'));
    assert.ok(ids.every(Boolean), 'every message has a Message-ID');
    assert.equal(new Set(ids).size, ids.length, 'distinct Message-IDs');
    const pairs = relay.messages.map((m) => `${mailingOf(m)} ${m.to.join(',')}`);
    assert.equal(new Set(pairs).size, pairs.length, 'one message per mailing and recipient');
  });
});
