/**
 * JSON-RPC 2.0 at /jsonrpc: the CloudMailing table through the shared RPC layer, driven by jayson's own
 * HTTP client (a real JSON-RPC client) and by raw requests for what a client library never sends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jayson from 'jayson';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

let gw: TestGateway;
let rpc: (method: string, params: unknown) => Promise<{ result?: any; error?: { code: number; message: string } }>;

before(async () => {
  gw = await startTestGateway();
  const u = new URL(gw.url);
  const client = jayson.Client.http({ host: u.hostname, port: Number(u.port), path: '/jsonrpc', headers: { authorization: basicAuthHeader(gw.key.secret) } });
  rpc = (method, params) =>
    new Promise((resolve, reject) =>
      client.request(method, params as jayson.RequestParamsLike, (err: jayson.JSONRPCErrorLike | null | undefined, response: any) =>
        err ? reject(err instanceof Error ? err : new Error(`${err.code}: ${err.message}`)) : resolve(response),
      ),
    );
});
after(async () => gw?.stop());

const post = (body: string, secret = gw.key.secret) =>
  fetch(`${gw.url}/jsonrpc`, { method: 'POST', headers: { authorization: basicAuthHeader(secret), 'content-type': 'application/json' }, body });

describe('jsonrpc: the CloudMailing methods in JSON', () => {
  it('creates, fills, lists and reads a mailing: dates as ISO strings, binaries as base64', async () => {
    const created = await rpc('create_mailing', ['news@json.example', 'News', 'Hi {{ firstname }}', '<p>Hi {{ firstname }}</p>']);
    const id = created.result as number;
    assert.equal(typeof id, 'number', JSON.stringify(created));
    const set = await rpc('set_mailing_properties', { mailing_id: id, properties: { scheduled_start: '2031-01-02T03:04:05Z', owner_guid: 'json' } });
    assert.equal(set.result, 0, JSON.stringify(set));
    const added = await rpc('add_recipients', [id, [{ email: 'a@example.org', firstname: 'Ann' }, { email: 'nope' }]]);
    assert.equal(added.result.length, 2);
    assert.ok(added.result[0].id);
    assert.ok(added.result[1].error);
    const [m] = (await rpc('list_mailings', [{ id: [id] }])).result;
    assert.equal(m.status, 'FILLING_RECIPIENTS');
    assert.equal(m.scheduled_start, '2031-01-02T03:04:05.000Z');
    assert.equal(m.owner_guid, 'json');
    assert.equal(m.total_recipient, 1);
    assert.match(Buffer.from(m.header, 'base64').toString(), /^From: "?News"? <news@json\.example>/m);
    // The feed may lag a moment behind a commit (its horizon is cluster-wide; it never skips): read until it shows it.
    let page: any;
    await waitFor('the feed shows the recipient', async () => {
      page = (await rpc('get_recipients_status_updated_since', ['', { status: ['READY'], mailings: [id] }, 10])).result;
      return page.recipients.length > 0;
    });
    assert.equal(page.recipients.length, 1);
    assert.equal(typeof page.recipients[0].modified, 'string');
    assert.equal((await rpc('start_mailing', [id])).result, 'READY');
  });

  it("answers CloudMailing's fault codes and the protocol's as JSON-RPC errors", async () => {
    assert.equal((await rpc('start_mailing', [987654])).error?.code, 404);
    assert.equal((await rpc('no_such_method', [])).error?.code, -32601);
    assert.equal((await rpc('start_mailing', ['x'])).error?.code, -32602);
    assert.equal((await rpc('create_mailing', { mail_from: 'a@json.example' })).error?.code, -32602);
    const bad = await post('{not json');
    assert.equal(bad.status, 200);
    assert.equal(((await bad.json()) as { error: { code: number } }).error.code, -32700);
    const notARequest = await post('{"jsonrpc": "2.0", "params": []}');
    assert.equal(((await notARequest.json()) as { error: { code: number } }).error.code, -32600);
  });

  it('answers with Content-Type and Content-Length, and no ETag (an answer to a POST is never revalidated)', async () => {
    for (const body of ['{"jsonrpc": "2.0", "id": 1, "method": "get_mailings_count", "params": []}', '{not json']) {
      const res = await post(body);
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
      assert.equal(res.headers.get('etag'), null);
      assert.equal((JSON.parse(text) as { jsonrpc: string }).jsonrpc, '2.0');
    }
  });

  it('runs batches and notifications; refuses a wrong key with 401', async () => {
    const res = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'get_mailings_count', params: [] },
        { jsonrpc: '2.0', id: 2, method: 'update_statistics', params: [] },
        { jsonrpc: '2.0', method: 'update_statistics', params: [] },
      ]),
    );
    const answers = (await res.json()) as { id: number; result: unknown }[];
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2]);
    assert.equal(answers.find((a) => a.id === 2)?.result, 0);
    const wrong = await post('{"jsonrpc": "2.0", "id": 1, "method": "update_statistics"}', 'wrong-key');
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic/);
  });

  it("answers a batch item by item (an error stays its item's), an empty batch -32600, and never another account's mailing", async () => {
    const id = (await rpc('create_mailing', ['news@json.example', 'Mine', 'S', '<p>x</p>'])).result as number;
    const res = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'list_mailings', params: [{ id: [id] }] },
        { jsonrpc: '2.0', id: 'b', method: 'start_mailing', params: [987654] },
        { jsonrpc: '2.0', id: 'c', method: 'nope', params: [] },
        { nonsense: true },
      ]),
    );
    const answers = (await res.json()) as { id: string | null; result?: any; error?: { code: number } }[];
    const by = new Map(answers.map((a) => [a.id, a]));
    assert.equal(by.get('a')?.result?.[0]?.id, id);
    assert.deepEqual([by.get('b')?.error?.code, by.get('c')?.error?.code, by.get(null)?.error?.code], [404, -32601, -32600]);
    assert.equal(((await (await post('[]')).json()) as { error: { code: number } }).error.code, -32600);
    // Another account's key sees none of it and changes nothing.
    const other = (await gw.core.accounts.createKey('json-other', 'other')).secret;
    const theirs = (await (
      await post(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'list_mailings', params: [{ id: [id] }] },
          { jsonrpc: '2.0', id: 2, method: 'delete_mailing', params: [id] },
          { jsonrpc: '2.0', id: 3, method: 'add_recipients', params: [id, [{ email: 'x@example.org' }]] },
        ]),
        other,
      )
    ).json()) as { id: number; result?: any; error?: { code: number } }[];
    const t = new Map(theirs.map((a) => [a.id, a]));
    assert.deepEqual([t.get(1)?.result, t.get(2)?.error?.code, t.get(3)?.error?.code], [[], 404, 404]);
    assert.equal((await rpc('list_mailings', [{ id: [id] }])).result[0].total_recipient, 0);
  });
});
