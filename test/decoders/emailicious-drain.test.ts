/**
 * A body over MAX_BODY_BYTES, sent by a client that writes the whole body before it reads anything (Python's
 * http.client, as the probe used): every dialect reads the rest and discards it, then the client reads its
 * 413. Emailicious used to stop reading at the limit, and such a client stalled until its own timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../support/process.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { snapshot } from './support.js';

const LIMIT = 64 * 1024;
let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ env: { MAX_BODY_BYTES: String(LIMIT) } });
});
after(async () => gw?.stop());

// Far more than the socket buffers hold: a server that stops reading leaves the client blocked in sendall().
const PYTHON = `
import base64, http.client, json, sys, urllib.parse
url, secret, path, ctype, size = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
auth = base64.b64encode(('me@example.org:' + secret).encode()).decode()
body = (b'{"name": "' + b'x' * size + b'"}') if ctype == 'application/json' else (b'name=' + b'x' * size)
conn.request('POST', path, body=body, headers={'Authorization': 'Basic ' + auth, 'Content-Type': ctype})
r = conn.getresponse()
print(json.dumps({'status': r.status, 'body': r.read().decode()}))
`;

async function post(ctype: string, size: number): Promise<{ status: number; body: string }> {
  const r = await runProcess('python3', ['-c', PYTHON, gw.url, gw.key.secret, '/api/v1/lists', ctype, String(size)], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

describe('emailicious: an oversized body', () => {
  for (const ctype of ['application/json', 'application/x-www-form-urlencoded']) {
    it(`reads ${ctype} to its end and answers 413 to a client that writes it all first`, async () => {
      const before = await snapshot(gw.pool);
      const r = await post(ctype, 32 * 1024 * 1024);
      assert.deepEqual(r, { status: 413, body: JSON.stringify({ detail: `Request body too large (limit ${LIMIT} bytes).` }) });
      assert.deepEqual(await snapshot(gw.pool), before);
    });
  }

  it('still reads a body within the limit', async () => {
    const r = await post('application/json', 100);
    assert.equal(r.status, 201);
  });
});
