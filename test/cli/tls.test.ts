/**
 * TLS served directly (TLS_CERT_FILE, TLS_KEY_FILE): the seed's clients use https://. Python's xmlrpc.client
 * verifies the gateway's certificate (a self-signed one made for the test, trusted as its CA).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { runProcess, selfSignedCertificate } from '../support/process.js';

let dir: string;

const python = async (args: string[], timeoutMs = 30_000) => {
  const r = await runProcess('python3', args, { timeoutMs });
  return { ...r, status: r.code };
};
let gw: TestGateway;
let tlsCert: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-tls-'));
  const tls = selfSignedCertificate(dir);
  tlsCert = tls.cert;
  gw = await startTestGateway({ env: { TLS_CERT_FILE: tls.cert, TLS_KEY_FILE: tls.key } });
});
after(async () => {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('https: TLS served by the gateway', () => {
  it('answers a verifying Python client over https, and not plain http', async () => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const url = `${gw.url.replace('://', `://admin:${gw.key.secret}@`)}/CloudMailing`;
    const script = [
      'import ssl, sys, xmlrpc.client',
      'ctx = ssl.create_default_context(cafile=sys.argv[2])',
      'cm_master = xmlrpc.client.ServerProxy(sys.argv[1], context=ctx)',
      'mailing_id = cm_master.create_mailing("my-mailing@%example.org", "My Mailing", "The great newsletter", "<h1>Title</h1><p>Coucou</p>", "Title\\nCoucou\\n", "UTF-8")',
      'print(mailing_id, cm_master.list_mailings({"id": [mailing_id]})[0]["status"])',
    ].join('\n');
    const r = await python(['-c', script, url, tlsCert]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+ FILLING_RECIPIENTS$/);

    const plain = await python(
      ['-c', 'import sys, xmlrpc.client; xmlrpc.client.ServerProxy(sys.argv[1]).system.listMethods()', url.replace('https://', 'http://')],
      20_000,
    );
    assert.notEqual(plain.status, 0, 'plain http is not served on the TLS port');
  });
});
