/**
 * The send path's DKIM signer (src/worker/dkim.ts): RFC 6376's own canonicalization example, and signatures
 * on awkward messages (folded and repeated headers, trailing whitespace, empty lines at the end, no body, no
 * final line end) verified by mailauth for RSA-SHA256, RSA-SHA1 and Ed25519 keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dkimSigner, relaxedBody, relaxedHeader } from '../../src/worker/dkim.js';
import { dkimKey, verifyDkim } from '../support/dkim.js';

const rsa = dkimKey();
const ed = dkimKey('ed25519');
const keys = { 'r._domainkey.example.org': rsa, 'e._domainkey.example.org': ed };

const messages: Record<string, string> = {
  plain: 'From: a@example.org\r\nTo: b@example.org\r\nSubject: Hi\r\n\r\nHello\r\n',
  folded:
    'From: "A" <a@example.org>\r\nSubject: a long\r\n \t subject  folded\r\nTo: b@example.org,\r\n c@example.org\r\nX-Mailgate-Mailing: 7\r\n\r\nbody  with   spaces \t \r\n\r\n\r\n',
  repeated: 'From: a@example.org\r\nTo: b@example.org\r\nSubject: first\r\nSubject: second\r\n\r\nx',
  empty: 'From: a@example.org\r\nSubject: nothing\r\n\r\n',
  headersOnly: 'From: a@example.org\r\nSubject: no body at all\r\n',
  utf8: 'From: =?UTF-8?Q?J=C3=A9r=C3=B4me?= <a@example.org>\r\nSubject: =?UTF-8?B?w4l0w6k=?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÉté à Paris\r\n',
};

describe('dkim signer', () => {
  it("canonicalizes as RFC 6376's example (3.4.5)", () => {
    assert.equal(relaxedHeader('A: X'), 'a:X');
    assert.equal(relaxedHeader('B : Y\t\r\n\tZ  '), 'b:Y Z');
    assert.equal(relaxedBody(Buffer.from(' C \r\nD \t E\r\n\r\n\r\n')).toString(), ' C\r\nD E\r\n');
    assert.equal(relaxedBody(Buffer.from('')).toString(), '');
    assert.equal(relaxedBody(Buffer.from('\r\n\r\n')).toString(), '');
    assert.equal(relaxedBody(Buffer.from('no end')).toString(), 'no end\r\n');
  });

  for (const [kind, key, selector, hash] of [
    ['rsa-sha256', rsa, 'r', 'sha256'],
    ['rsa-sha1', rsa, 'r', 'sha1'],
    ['ed25519-sha256', ed, 'e', 'sha256'],
  ] as const) {
    it(`signs every awkward message so that mailauth verifies it (${kind})`, async () => {
      const signer = dkimSigner({ domain: 'example.org', selector, privateKey: key.privateKey, hash });
      assert.equal(signer.algorithm, kind);
      for (const [name, text] of Object.entries(messages)) {
        const signed = await signer.sign(Buffer.from(text, 'utf8'));
        const results = await verifyDkim(signed, keys);
        assert.deepEqual(
          results.map((r) => [r.result, r.domain, r.selector]),
          [['pass', 'example.org', selector]],
          `${name}: ${JSON.stringify(results)}`,
        );
        // A changed body no longer verifies: the pass is earned.
        const tampered = Buffer.from(
          signed.toString('utf8').replace(/\r\n\r\n([\s\S]*)$/, (_m, b: string) => `\r\n\r\n${b}tampered\r\n`),
          'utf8',
        );
        assert.notEqual((await verifyDkim(tampered, keys))[0]?.result, 'pass', name);
      }
    });
  }

  it('signs the listed headers present, the last instance of a repeated one', async () => {
    const signer = dkimSigner({ domain: 'example.org', selector: 'r', privateKey: rsa.privateKey, headers: ['From', 'Subject', 'Date'] });
    const signed = (await signer.sign(Buffer.from(messages.repeated!))).toString();
    assert.match(signed, /\bh=From:Subject;/);
    const changedFirst = signed.replace('Subject: first', 'Subject: FIRST');
    assert.equal((await verifyDkim(Buffer.from(changedFirst), keys))[0]?.result, 'pass', 'the first Subject is not signed');
    const changedLast = signed.replace('Subject: second', 'Subject: SECOND');
    assert.notEqual((await verifyDkim(Buffer.from(changedLast), keys))[0]?.result, 'pass');
  });

  it('a key that cannot sign fails every message', async () => {
    const bad = dkimSigner({ domain: 'example.org', selector: 'x', privateKey: 'not a key' });
    await assert.rejects(bad.sign(Buffer.from(messages.plain!)), /DKIM key of x\._domainkey\.example\.org unusable/);
  });
});
