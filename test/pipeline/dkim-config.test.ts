/**
 * DKIM from the installation's configuration (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY_FILE): every
 * message is signed; a mailing's own `dkim` property takes precedence (CloudMailing's, `enabled` by
 * default). Signatures are verified with mailauth against the public keys.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimKey, verifyDkim } from '../support/dkim.js';
import { people, setup, waitFor, type Harness } from '../support/harness.js';

let h: Harness;
let dir: string;
const installation = dkimKey();
const own = dkimKey();
const ed = dkimKey('ed25519');
const keys = { 'mg2026._domainkey.news.example.net': installation, 'own1._domainkey.example.org': own, 'ed1._domainkey.example.org': ed };

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-dkim-'));
  const keyFile = path.join(dir, 'dkim.pem');
  await writeFile(keyFile, installation.privateKey);
  h = await setup({ DKIM_DOMAIN: 'news.example.net', DKIM_SELECTOR: 'mg2026', DKIM_PRIVATE_KEY_FILE: keyFile });
  await h.startWorker();
});
after(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('pipeline: DKIM from the configuration', () => {
  it('signs every message with the configured domain and selector', async () => {
    const id = await h.mailing(people(3, 'dk'));
    await h.core.mailings.start(h.ctx, id);
    await waitFor('finished', async () => (await h.mailingStatus(id)) === 'finished');
    for (let i = 0; i < 3; i++) {
      const sig = h.smtp.to(`dk${i}@example.org`)[0]!.header('DKIM-Signature');
      assert.ok(sig, 'DKIM-Signature header');
      assert.match(sig, /\bd=news\.example\.net;/);
      assert.match(sig, /\bs=mg2026;/);
      assert.match(sig, /\bbh=[A-Za-z0-9+/=]+;/);
      assert.deepEqual(await verifyDkim(h.smtp.to(`dk${i}@example.org`)[0]!.raw, keys), [
        { result: 'pass', domain: 'news.example.net', selector: 'mg2026', comment: undefined },
      ]);
    }
  });

  it("a mailing's own key wins over the configuration", async () => {
    const id = await h.mailing(people(1, 'own'), { dkim: { enabled: true, selector: 'own1', domain: 'example.org', privkey: own.privateKey } });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('finished', async () => (await h.mailingStatus(id)) === 'finished');
    const sig = h.smtp.to('own0@example.org')[0]!.header('DKIM-Signature')!;
    assert.match(sig, /\bd=example\.org;/);
    assert.match(sig, /\bs=own1;/);
    const [result] = await verifyDkim(h.smtp.to('own0@example.org')[0]!.raw, keys);
    assert.equal(result?.result, 'pass', JSON.stringify(result));
  });

  it("a mailing's key with enabled: false is not used (the configuration's signs)", async () => {
    const id = await h.mailing(people(1, 'off'), { dkim: { enabled: false, selector: 'own1', domain: 'example.org', privkey: own.privateKey } });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('finished', async () => (await h.mailingStatus(id)) === 'finished');
    const [result] = await verifyDkim(h.smtp.to('off0@example.org')[0]!.raw, keys);
    assert.deepEqual([result?.result, result?.domain], ['pass', 'news.example.net']);
  });

  it("signs with a mailing's Ed25519 key (ed25519-sha256) and with RSA-SHA1 when asked; the signed headers as told", async () => {
    const id = await h.mailing(people(1, 'ed'), { dkim: { enabled: true, selector: 'ed1', domain: 'example.org', privkey: ed.privateKey } });
    const sha1 = await h.mailing(people(1, 'sha'), {
      dkim: {
        enabled: true,
        selector: 'own1',
        domain: 'example.org',
        privkey: own.privateKey,
        signature_algorithm: 'rsa-sha1',
        include_headers: ['From', 'Subject'],
      },
    });
    for (const m of [id, sha1]) await h.core.mailings.start(h.ctx, m);
    await waitFor('finished', async () => (await h.mailingStatus(id)) === 'finished' && (await h.mailingStatus(sha1)) === 'finished');
    const edSig = h.smtp.to('ed0@example.org')[0]!.header('DKIM-Signature')!;
    assert.match(edSig, /\ba=ed25519-sha256;/);
    assert.deepEqual(await verifyDkim(h.smtp.to('ed0@example.org')[0]!.raw, keys), [
      { result: 'pass', domain: 'example.org', selector: 'ed1', comment: undefined },
    ]);
    const shaSig = h.smtp.to('sha0@example.org')[0]!.header('DKIM-Signature')!;
    assert.match(shaSig, /\ba=rsa-sha1;/);
    assert.match(shaSig, /\bh=From:Subject;/);
    const [r] = await verifyDkim(h.smtp.to('sha0@example.org')[0]!.raw, keys);
    assert.equal(r?.domain, 'example.org');
  });

  it('a key that cannot sign fails its messages (general_error), never sends them unsigned', async () => {
    const id = await h.mailing(people(2, 'badkey'), { dkim: { enabled: true, selector: 'x', domain: 'example.org', privkey: 'not a key' } });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('finished', async () => (await h.mailingStatus(id)) === 'finished');
    assert.equal(h.smtp.to('badkey0@example.org').length, 0);
    const m = await h.core.mailings.get(h.ctx, id);
    assert.equal(m.totals.error, 2);
  });
});
