/**
 * TLS served directly (TLS_CERT_FILE, TLS_KEY_FILE): the seed's clients use https://. Python's xmlrpc.client
 * verifies the gateway's certificate (a self-signed one made for the test, trusted as its CA).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let dir: string;

/** python3 -c, asynchronously: the gateway answering it runs in this very process. */
function python(args: string[], timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
let gw: TestGateway;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  gw = await startTestGateway({ env: { TLS_CERT_FILE: path.join(dir, 'cert.pem'), TLS_KEY_FILE: path.join(dir, 'key.pem') } });
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
    const r = await python(['-c', script, url, path.join(dir, 'cert.pem')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+ FILLING_RECIPIENTS$/);

    const plain = await python(['-c', 'import sys, xmlrpc.client; xmlrpc.client.ServerProxy(sys.argv[1]).system.listMethods()', url.replace('https://', 'http://')], 20_000);
    assert.notEqual(plain.status, 0, 'plain http is not served on the TLS port');
  });
});
