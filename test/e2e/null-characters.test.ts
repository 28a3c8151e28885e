/**
 * A null character (U+0000) in any stored text is the caller's bad input on every dialect: Postgres cannot
 * store it, and the pool answers its refusal as INVALID_ARGUMENT (src/db/pool.ts), which each dialect spells
 * its own way — never an internal error — and nothing is stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => gw?.stop());

describe('null characters in stored text', () => {
  it('Sender, Mailkit and JSON-RPC answer their own error and store nothing', async () => {
    const sender = { authorization: `Basic ${Buffer.from(`${gw.key.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
    assert.equal((await fetch(`${gw.url}/api/0/acme/maillist/nul`, { method: 'PUT', headers: sender, body: '{}' })).status, 201);
    const put = await fetch(`${gw.url}/api/0/acme/maillist/nul/subscription`, {
      method: 'PUT',
      headers: sender,
      body: JSON.stringify({ email: 'nul@example.org', params: { name: 'a\u0000b' } }),
    });
    assert.deepEqual(
      [put.status, await put.json()],
      [400, { result: { status: 'ERROR', error: { detail: 'a text value contains a null character (U+0000), which cannot be stored' } } }],
    );
    assert.equal((await fetch(`${gw.url}/api/0/acme/maillist/nul/email/nul@example.org`, { headers: sender })).status, 404);

    const mk = await fetch(`${gw.url}/json.fcgi`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'mailkit.mailinglist.create', id: String(gw.key.id), md5: gw.key.secret, parameters: { name: 'list\u0000' } }),
    });
    const mkBody = (await mk.json()) as { error_status: number; error: string };
    assert.deepEqual([mkBody.error_status, /null character/.test(mkBody.error)], [1, true]);
    const lists = await fetch(`${gw.url}/json.fcgi`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'mailkit.mailinglist.list', id: String(gw.key.id), md5: gw.key.secret }),
    });
    assert.ok(!JSON.stringify(await lists.json()).includes('list\\u0000'));

    const rpc = await fetch(`${gw.url}/jsonrpc`, {
      method: 'POST',
      headers: { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'create_mailing', params: ['a@example.org', 'N', 'Subject\u0000', '<p>x</p>'] }),
    });
    const answer = (await rpc.json()) as { error?: { code: number; message: string } };
    assert.match(answer.error?.message ?? '', /null character/);
    assert.notEqual(answer.error?.code, -32603, 'not an internal error');
    const count = (await (
      await fetch(`${gw.url}/jsonrpc`, {
        method: 'POST',
        headers: { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'application/json' },
        body: '{"jsonrpc":"2.0","id":2,"method":"get_mailings_count","params":[]}',
      })
    ).json()) as { result: number };
    assert.equal(count.result, 0);
  });
});
