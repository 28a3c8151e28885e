/**
 * Whole messages: the template compiled once and rendered per recipient (personalization inside the parts,
 * decoded from their transfer encoding and encoded again), and the edits a mailing's properties make.
 * mailparser reads every result back, as a mail client would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import libqp from 'libqp';
import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { compileMessageTemplate, normalizeLineEnds } from '../../src/mime/template.js';
import { composeMessage, replaceBody, replaceHeaderBlock, replaceTextBodies, setFrom, setRootHeader, withAttachments } from '../../src/mime/message.js';

const fields = (o: Record<string, string>) => new Map(Object.entries(o));
const HEADERS: [string, string][] = [
  ['To', 'zoe@example.org'],
  ['Message-ID', '<r1.m1@bounces.example>'],
];

// A message as a mail program writes it: LF line ends, a QP html part in Latin-1, a base64 text part,
// an 8bit part, and an image that must go out untouched.
const latin1Html = libqp.wrap(libqp.encode(iconv.encode('<p>H\u00e9llo {{ firstname }} &amp; co</p>\n<a href="{{unsubscribe}}">x</a>', 'latin1')), 76);
const RAW = Buffer.concat([
  Buffer.from(
    [
      'From: =?UTF-8?Q?Caf=C3=A9?= <news@shop.example>',
      'To: placeholder@example.org',
      'Message-ID: <original@shop.example>',
      'Subject: Hello {{firstname}} {{ lastname }}',
      'X-Campaign: spring',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="OUT"',
      '',
      '--OUT',
      'Content-Type: multipart/alternative; boundary="ALT"',
      '',
      '--ALT',
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      '*Bonjour*{{firstname}} {{lastname}},',
      'r\u00e9union {{ missing }}.',
      '--ALT',
      'Content-Type: text/html; charset=ISO-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      latin1Html,
      '--ALT--',
      '--OUT',
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Dear {{firstname}}, your code is {{code}}.\n').toString('base64'),
      '--OUT',
      'Content-Type: image/png; name="logo.png"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: inline; filename="logo.png"',
      '',
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      '--OUT--',
      '',
    ].join('\n'),
    'utf8',
  ),
]);

describe('mime: a message as a template', () => {
  it('personalizes the subject and every text part, in its own transfer encoding, and keeps the rest byte for byte', async () => {
    const t = await compileMessageTemplate(RAW);
    assert.deepEqual([...t.fieldNames].sort(), ['code', 'firstname', 'lastname', 'missing', 'unsubscribe']);
    const out = t.render(fields({ firstname: 'Zo\u00eb <3', lastname: 'DOE', code: 'A&B', unsubscribe: 'https://gw.example/u/1.x' }), HEADERS);
    const text = out.toString('latin1');
    assert.doesNotMatch(text, /(?<!\r)\n/, 'CRLF line ends only');
    assert.match(text, /^To: zoe@example\.org\r\nMessage-ID: <r1\.m1@bounces\.example>\r\n/);
    assert.doesNotMatch(text, /placeholder@|original@shop/, "the message's own To and Message-ID are dropped");
    assert.match(text, /\r\nX-Campaign: spring\r\n/);
    assert.ok(text.includes('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), 'the image is untouched');

    const m = await simpleParser(out);
    assert.equal(m.subject, 'Hello Zo\u00eb <3 DOE');
    assert.equal(m.from?.value[0]?.name, 'Caf\u00e9');
    assert.equal(m.text?.split('\n')[0], '*Bonjour*Zo\u00eb <3 DOE,');
    assert.match(m.text ?? '', /r\u00e9union \./, 'a missing field renders empty');
    assert.match(String(m.html), /<p>H\u00e9llo Zo\u00eb &lt;3 &amp; co<\/p>/, 'html values are escaped; the Latin-1 part is now UTF-8');
    assert.match(String(m.html), /href="https:\/\/gw\.example\/u\/1\.x"/);
    assert.match(m.text ?? '', /Dear Zo\u00eb <3, your code is A&B\./, 'the base64 part is personalized');
    assert.ok(text.includes(Buffer.from('Dear Zo\u00eb <3, your code is A&B.\n').toString('base64')), 'and still base64');
    assert.ok(m.attachments.find((a) => a.filename === 'logo.png'));
    // The 8bit part keeps its encoding and is now UTF-8; the QP part stays QP.
    assert.match(text, /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\*Bonjour\*Zo\u00c3\u00ab <3 DOE,/);
    assert.match(text, /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable/);
  });

  it('to a relay announcing 8BITMIME, quoted-printable parts go as 8bit UTF-8 unless a line is over 998 octets', async () => {
    const t = await compileMessageTemplate(RAW);
    const f = fields({ firstname: 'Zo\u00eb <3', lastname: 'DOE', code: 'A&B', unsubscribe: 'https://gw.example/u/1.x' });
    const qp = t.render(f, HEADERS);
    const eight = t.render(f, HEADERS, { eightBit: true });
    const text = eight.toString('latin1');
    assert.match(
      text,
      /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>H\u00c3\u00a9llo Zo\u00c3\u00ab &lt;3 &amp; co<\/p>\r\n/,
    );
    assert.ok(text.includes(Buffer.from('Dear Zo\u00eb <3, your code is A&B.\n').toString('base64')), 'a base64 part stays base64');
    assert.doesNotMatch(text, /quoted-printable/);
    assert.doesNotMatch(text, /(?<!\r)\n/, 'CRLF line ends only');
    assert.ok(eight.length < qp.length);
    const [a, b] = [await simpleParser(qp), await simpleParser(eight)];
    assert.deepEqual([b.subject, b.text, b.html, b.attachments.map((x) => x.checksum)], [a.subject, a.text, a.html, a.attachments.map((x) => x.checksum)]);

    // A line over 998 octets cannot be 8bit (RFC 5322 2.1.1): that part stays quoted-printable, for that recipient.
    const long = await compileMessageTemplate(
      await composeMessage({ fromEmail: 'a@shop.example', fromName: null, subject: 'S', html: '<p>{{ filler }}</p>', text: 'T {{ filler }}' }),
    );
    const short = long.render(fields({ filler: 'x'.repeat(900) }), HEADERS, { eightBit: true }).toString('latin1');
    assert.equal(short.match(/Content-Transfer-Encoding: 8bit/g)?.length, 2);
    const over = long.render(fields({ filler: '\u00e9'.repeat(500) }), HEADERS, { eightBit: true });
    assert.equal(over.toString('latin1').match(/Content-Transfer-Encoding: quoted-printable/g)?.length, 2, '1,000 octets of UTF-8 on one line');
    assert.equal((await simpleParser(over)).text?.trim(), `T ${'\u00e9'.repeat(500)}`);
    // A bare line break or a NUL in a value: quoted-printable, which 8bit cannot carry.
    for (const filler of ['one\ntwo', 'one\rtwo', 'nul\u0000']) {
      const out = long.render(fields({ filler }), HEADERS, { eightBit: true }).toString('latin1');
      assert.equal(out.match(/Content-Transfer-Encoding: quoted-printable/g)?.length, 2, JSON.stringify(filler));
    }
  });

  it('renders each recipient from the same compiled template, and a message without fields unchanged', async () => {
    const t = await compileMessageTemplate(RAW);
    const a = await simpleParser(t.render(fields({ firstname: 'Ann' }), HEADERS));
    const b = await simpleParser(t.render(fields({ firstname: 'Bob' }), HEADERS));
    assert.equal(a.subject, 'Hello Ann');
    assert.equal(b.subject, 'Hello Bob');
    const plain = normalizeLineEnds(Buffer.from('From: a@example.org\nSubject: static\n\nbody {{ not closed\n'));
    const p = await compileMessageTemplate(plain);
    assert.deepEqual(p.fieldNames, []);
    assert.equal(p.render(fields({}), []).toString(), plain.toString());
  });

  it('template syntax in recipient data stays data', async () => {
    const t = await compileMessageTemplate(Buffer.from('From: a@example.org\r\nSubject: {{name}}\r\n\r\nHi {{name}}\r\n'));
    const m = await simpleParser(t.render(fields({ name: '{{ constructor }} ${x}' }), []));
    assert.equal(m.subject, '{{ constructor }} ${x}');
    assert.equal(m.text?.trim(), 'Hi {{ constructor }} ${x}');
  });
});

describe('mime: edits made by properties', () => {
  it('composes create_mailing content once, then edits Subject, From, bodies, the header block and the body', async () => {
    let raw = await composeMessage({ fromEmail: 'news@shop.example', fromName: 'Shop', subject: 'First', html: '<p>old {{x}}</p>', text: 'old {{x}}' });
    let m = await simpleParser(raw);
    assert.equal(m.subject, 'First');
    assert.equal(m.text?.trim(), 'old {{x}}');

    raw = setRootHeader(raw, 'Subject', 'Deuxi\u00e8me {{x}}');
    raw = setFrom(raw, 'Caf\u00e9 "Shop"', 'other@shop.example');
    raw = await replaceTextBodies(raw, { html: '<p>new \u00e9 {{x}}</p>', text: 'new \u00e9 {{x}}' });
    m = await simpleParser(raw);
    assert.equal(m.subject, 'Deuxi\u00e8me {{x}}');
    assert.deepEqual(m.from?.value[0], { address: 'other@shop.example', name: 'Caf\u00e9 "Shop"' });
    assert.equal(m.text?.trim(), 'new \u00e9 {{x}}');
    assert.equal(String(m.html).trim(), '<p>new \u00e9 {{x}}</p>');
    assert.equal((await simpleParser(setRootHeader(raw, 'Subject', null))).subject, undefined);

    const replaced = replaceHeaderBlock(raw, 'Subject: New subject!');
    assert.match(replaced.toString(), /^Subject: New subject!\r\n\r\n/);
    const body = replaceBody(replaced, 'just this\nbody');
    assert.equal(body.toString(), 'Subject: New subject!\r\n\r\njust this\r\nbody');
  });

  it('wraps a rendered message with the recipient attachments', async () => {
    const t = await compileMessageTemplate(
      await composeMessage({ fromEmail: 'a@shop.example', fromName: null, subject: 'S', html: '<p>H {{n}}</p>', text: 'T {{n}}' }),
    );
    const out = await withAttachments(t.render(fields({ n: '1' }), HEADERS), [
      { filename: 'notes.txt', contentType: 'text/plain', charset: 'utf-8', data: Buffer.from('h\u00e9llo').toString('base64') },
      { contentType: 'application/pdf', data: Buffer.from('%PDF').toString('base64') },
    ]);
    const m = await simpleParser(out);
    assert.equal(m.subject, 'S');
    assert.equal(m.to && !Array.isArray(m.to) ? m.to.text : '', 'zoe@example.org');
    assert.equal(m.messageId, '<r1.m1@bounces.example>');
    assert.equal(m.text?.trim(), 'T 1');
    assert.equal(String(m.html).trim(), '<p>H 1</p>');
    assert.equal(m.attachments.length, 2);
    assert.equal(m.attachments[0]!.filename, 'notes.txt');
    assert.equal(m.attachments[0]!.content.toString(), 'h\u00e9llo');
    assert.equal(m.attachments[1]!.contentType, 'application/pdf');
  });

  it('each recipient gets what nodemailer would have composed for that recipient alone (parsed by mailparser)', async () => {
    const long = `${'Lorem ipsum dolor sit amet '.repeat(12)}{{ firstname }} ${'consectetur adipiscing '.repeat(10)}`;
    const content = {
      subject: 'Bonjour {{ firstname }}, votre offre \u00e0 {{ city }}',
      html: `<p>Hello {{ firstname }} from {{ city }}</p><p>${long}</p>`,
      text: `Hello {{ firstname }}\n${long}\n`,
    };
    const template = await compileMessageTemplate(await composeMessage({ fromEmail: 'news@shop.example', fromName: 'Caf\u00e9 Shop', ...content }));
    const people = [
      { firstname: 'Zo\u00eb', city: 'K\u00f8benhavn' },
      { firstname: '\u0160t\u011bp\u00e1n <b>&"', city: 'Plze\u0148' },
      { firstname: '\u6797', city: '\u6771\u4eac' },
      { firstname: 'Ann', city: 'Lyon' },
    ];
    const attachment = { filename: 'r\u00e9sum\u00e9.txt', contentType: 'text/plain', charset: 'utf-8', data: Buffer.from('h\u00e9llo').toString('base64') };
    const fill = (t: string, f: Record<string, string>, html: boolean) =>
      t.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) =>
        html ? f[k]!.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : f[k]!,
      );
    for (const [i, f] of people.entries()) {
      const headers: [string, string][] = [
        ['To', `r${i}@example.org`],
        ['Message-ID', `<r${i}.m1@bounces.example>`],
      ];
      const ours = await simpleParser(await withAttachments(template.render(fields(f), headers), [attachment]));
      const theirs = await simpleParser(
        await new MailComposer({
          from: { name: 'Caf\u00e9 Shop', address: 'news@shop.example' },
          to: `r${i}@example.org`,
          messageId: `<r${i}.m1@bounces.example>`,
          subject: fill(content.subject, f, false),
          html: fill(content.html, f, true),
          text: fill(content.text, f, false),
          attachments: [{ filename: attachment.filename, contentType: 'text/plain; charset=utf-8', content: Buffer.from('h\u00e9llo') }],
        })
          .compile()
          .build(),
      );
      const view = (m: typeof ours) => ({
        subject: m.subject,
        from: m.from?.value,
        to: m.to && !Array.isArray(m.to) ? m.to.value : null,
        messageId: m.messageId,
        text: m.text?.replace(/\r\n/g, '\n').trimEnd(),
        html: String(m.html).trimEnd(),
        attachments: m.attachments.map((a) => [a.filename, a.contentType, a.content.toString('utf8')]),
      });
      assert.deepEqual(view(ours), view(theirs), `recipient ${i}`);
    }
  });
});
