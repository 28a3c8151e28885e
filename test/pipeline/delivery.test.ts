/**
 * The send pipeline end to end against a real Postgres and a real SMTP relay: what reaches the relay
 * (personalization, headers, VERP envelope) and what each SMTP answer does to a recipient.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { verifyRecipientToken } from '../../src/core/delivery/tokens.js';
import { BOUNCE_DOMAIN, PUBLIC_URL, setup, waitFor, type Harness } from '../support/harness.js';

let h: Harness;

before(async () => {
  h = await setup();
  await h.startWorker();
});
after(async () => {
  await h.close();
});

async function finished(mailingId: number) {
  await waitFor(`mailing ${mailingId} finished`, async () => (await h.mailingStatus(mailingId)) === 'finished');
}

describe('pipeline: message', () => {
  it('personalizes subject, html (as the original: values not escaped) and text, and carries the stable headers and a VERP envelope', async () => {
    const id = await h.mailing(
      [{ email: 'ann@example.org', fields: { firstname: 'Ann & <Bob>' } }],
      { replytoEmail: 'reply@example.org' },
      {
        subject: 'Hello {{ firstname }}',
        html: '<p>Hi {{ firstname }}</p><a href="{{ unsubscribe_link }}">leave</a>',
        text: 'Hi {{firstname}} <{{ email }}>{{ missing }}.',
      },
    );
    assert.equal(await h.core.mailings.start(h.ctx, id), 'ready');
    await finished(id);

    const [r] = await h.recipients(id);
    assert.equal(r!.status, 'finished');
    assert.equal(r!.reply_code, 250);
    assert.equal(r!.try_count, 1);
    const [msg, ...more] = h.smtp.to('ann@example.org');
    assert.ok(msg);
    assert.equal(more.length, 0);

    // Envelope: VERP return path whose token names the recipient.
    const verp = /^bounces\+([^@]+)@(.+)$/.exec(msg.from);
    assert.ok(verp, msg.from);
    assert.equal(verp[2], BOUNCE_DOMAIN);
    const token = verp[1]!;
    assert.equal(verifyRecipientToken(h.secret, token), r!.id);
    assert.deepEqual(msg.to, ['ann@example.org']);

    const parsed = await msg.parse();
    assert.equal(parsed.subject, 'Hello Ann & <Bob>');
    // A CloudMailing mailing: the original renders with Jinja2's default, no autoescape (`|e` escapes).
    assert.match(String(parsed.html), /<p>Hi Ann & <Bob><\/p>/);
    assert.ok(String(parsed.html).includes(`href="${PUBLIC_URL}/u/${token}"`));
    assert.equal(parsed.text?.trim(), 'Hi Ann & <Bob> <ann@example.org>.');
    assert.equal(parsed.from?.value[0]?.address, 'news@example.org');
    assert.equal(parsed.from?.value[0]?.name, 'Example News');
    assert.equal(parsed.replyTo?.value[0]?.address, 'reply@example.org');

    assert.equal(msg.header('Message-ID'), `<r${r!.id}.m${id}@${BOUNCE_DOMAIN}>`);
    assert.equal(msg.header('X-Mailgate-Mailing'), String(id));
    assert.equal(msg.header('List-Unsubscribe'), `<${PUBLIC_URL}/u/${token}>, <mailto:unsubscribe+${token}@${BOUNCE_DOMAIN}>`);
    assert.equal(msg.header('List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
  });

  it('attaches the recipient attachments', async () => {
    const id = await h.mailing([
      {
        email: 'att@example.org',
        fields: {},
        attachments: [{ filename: 'hello.txt', contentType: 'text/plain', charset: 'utf-8', data: Buffer.from('hello file').toString('base64') }],
      },
    ]);
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const parsed = await h.smtp.to('att@example.org')[0]!.parse();
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.filename, 'hello.txt');
    assert.equal(parsed.attachments[0]!.content.toString(), 'hello file');
  });

  it('signs with the mailing DKIM key when it has one', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const privkey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const id = await h.mailing([{ email: 'signed@example.org', fields: {} }], {
      dkim: { enabled: true, selector: 'sel1', domain: 'example.org', privkey },
    });
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const sig = h.smtp.to('signed@example.org')[0]!.header('DKIM-Signature');
    assert.ok(sig, 'DKIM-Signature header');
    assert.match(sig, /\bd=example\.org;/);
    assert.match(sig, /\bs=sel1;/);
  });

  it('a mailing made from a whole message (create_mailing_ext) keeps its content; To, Message-ID and List-Unsubscribe are ours', async () => {
    const raw = Buffer.from(
      'From: Raw <raw@example.org>\r\nTo: whoever@example.org,\r\n  someone@example.org\r\nSubject: raw one\r\nMessage-ID: <fixed@example.org>\r\nX-Custom: kept\r\n\r\nbody as is\r\n',
    );
    const id = await h.core.mailings.createFromMessage(h.ctx, 'cloudmailing', raw);
    await h.core.recipients.add(h.ctx, id, [{ email: 'rawto@example.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const [msg] = h.smtp.to('rawto@example.org');
    assert.ok(msg);
    assert.match(msg.from, /^bounces\+/);
    assert.equal(msg.header('Subject'), 'raw one');
    assert.match(msg.header('Message-ID')!, /^<r\d+\.m\d+@/);
    assert.equal(msg.header('To'), 'rawto@example.org');
    assert.equal(msg.header('X-Custom'), 'kept');
    assert.match(msg.header('List-Unsubscribe')!, /^<https?:\/\/[^>]+\/u\/\d+\.[\w-]+>, <mailto:unsubscribe\+/);
    assert.equal(msg.header('List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
    assert.doesNotMatch(msg.raw.toString(), /fixed@example\.org|whoever|someone@/);
    assert.match(msg.raw.toString(), /\r\n\r\nbody as is\r\n$/);
  });

  it('send_test goes out at once while the mailing is still filling', async () => {
    const id = await h.mailing([]);
    await h.core.recipients.sendTest(h.ctx, id, [{ email: 'tester@example.org', fields: {} }]);
    await waitFor('the test message', () => h.smtp.to('tester@example.org').length === 1);
    await waitFor('the test recipient finished', async () => (await h.recipients(id))[0]?.status === 'finished');
    assert.equal(await h.mailingStatus(id), 'filling');
  });
});

describe('pipeline: outcomes', () => {
  it('550 5.1.1: error, a permanent bounce, the address suppressed and never mailed again', async () => {
    h.smtp.reject550.add('gone@example.org');
    const id = await h.mailing([
      { email: 'gone@example.org', fields: {} },
      { email: 'fine@example.org', fields: {} },
    ]);
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const rows = await h.recipients(id);
    const gone = rows.find((r) => r.email === 'gone@example.org')!;
    assert.equal(gone.status, 'error');
    assert.equal(gone.reply_code, 550);
    assert.equal(gone.reply_enhanced_code, '5.1.1');
    assert.equal(gone.reply_text, 'user unknown');
    assert.equal(rows.find((r) => r.email === 'fine@example.org')!.status, 'finished');

    const { rows: bounces } = await h.pool.query('SELECT * FROM bounces WHERE recipient_id = $1', [gone.id]);
    assert.equal(bounces.length, 1);
    assert.equal(bounces[0].kind, 'permanent');
    assert.equal(bounces[0].source, 'smtp');
    assert.equal(bounces[0].enhanced_status, '5.1.1');
    assert.equal(bounces[0].mailing_id, id);
    const { rows: sup } = await h.pool.query('SELECT * FROM suppressions WHERE account_id = $1', [h.ctx.accountId]);
    assert.deepEqual(
      sup.map((s) => [s.email_key, s.reason]),
      [['gone@example.org', 'hard_bounce']],
    );

    // The same mailbox (domain case differs) in a later mailing is not sent.
    const again = await h.mailing([{ email: 'gone@EXAMPLE.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, again);
    await finished(again);
    const [r] = await h.recipients(again);
    assert.equal(r!.status, 'error');
    assert.equal(r!.reply_text, 'not sent: the address is suppressed (it bounced permanently before)');
    assert.equal(r!.try_count, 0);
    assert.equal(h.smtp.messages.filter((m) => m.to.some((t) => t.toLowerCase() === 'gone@example.org')).length, 0);
  });

  it('452 4.2.2: warning with a temporary bounce, retried with a delay, finished once accepted', async () => {
    h.smtp.reject452.add('full@example.org');
    const id = await h.mailing([{ email: 'full@example.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, id);
    await waitFor('a warning', async () => (await h.recipients(id))[0]!.status === 'warning');
    const [w] = await h.recipients(id);
    assert.equal(w!.reply_code, 452);
    assert.equal(w!.reply_enhanced_code, '4.2.2');
    assert.ok(w!.next_try, 'a retry is planned');
    assert.equal(w!.lease_owner, null);
    assert.equal(await h.mailingStatus(id), 'running');
    const { rows: bounces } = await h.pool.query(`SELECT kind, source FROM bounces WHERE recipient_id = $1`, [w!.id]);
    assert.ok(bounces.length >= 1);
    assert.ok(bounces.every((b) => b.kind === 'temporary' && b.source === 'smtp'));

    h.smtp.reject452.delete('full@example.org');
    await finished(id);
    const [r] = await h.recipients(id);
    assert.equal(r!.status, 'finished');
    assert.ok(r!.try_count >= 2);
    assert.equal(r!.next_try, null);
    assert.equal(h.smtp.to('full@example.org').length, 1);
    const { rows: sup } = await h.pool.query(`SELECT 1 FROM suppressions WHERE email_key = 'full@example.org'`);
    assert.equal(sup.length, 0);
  });
});
