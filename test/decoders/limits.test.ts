/**
 * The input rules of every decoder (src/core/input.ts), one dialect at a time: values nested deeper than 64
 * levels, lone UTF-16 surrogates and bytes that are not UTF-8 are each dialect's bad input, answered in its
 * own error shape, with nothing stored; the process stays up. Addresses beyond RFC 5321's lengths are
 * refused by every dialect.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LONE_SURROGATE, NOT_UTF8, TOO_DEEP } from '../../src/core/input.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { clients, deepJson, deepObjectJson, snapshot } from './support.js';

let gw: TestGateway;
let c: ReturnType<typeof clients>;
let listId: number;
let emailiciousList: number;
let mailingId: number;
let stored: Record<string, string>;

before(async () => {
  gw = await startTestGateway();
  c = clients(gw);
  assert.equal((await c.sender('PUT', '/maillist/limits', '{}')).status, 201);
  const created = await c.mailkitJson(c.mailkitEnvelope('mailkit.mailinglist.create', { name: 'limits-mailkit' }));
  listId = Number((created.json() as { data: string }).data);
  assert.ok(listId > 0, created.text);
  emailiciousList = ((await c.emailicious('POST', '/lists', JSON.stringify({ name: 'limits-emailicious' }))).json() as { id: number }).id;
  mailingId = (
    (await c.jsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'create_mailing', params: ['a@example.org', 'N', 'S', '<p>x</p>'] }))).json() as {
      result: number;
    }
  ).result;
});
after(async () => gw?.stop());
beforeEach(async () => {
  stored = await snapshot(gw.pool);
});

/** Nothing stored changed, and the gateway still answers. */
async function unchanged() {
  assert.deepEqual(await snapshot(gw.pool), stored);
  // No worker runs beside this gateway (/healthz is 503 for that): its database check says it still serves.
  assert.equal(((await (await fetch(`${gw.url}/healthz`)).json()) as { database: string }).database, 'ok');
}

const senderError = (detail: string) => ({ result: { status: 'ERROR', error: { detail } } });
const rpcError = (code: number, message: string, id: number | null = 1) => ({ jsonrpc: '2.0', error: { code, message }, id });
const addRecipient = (recipient: string) => `{"jsonrpc":"2.0","id":1,"method":"add_recipients","params":[${mailingId},[${recipient}]]}`;

describe('decoders: nesting deeper than 64 levels', () => {
  it('sender: params nested 100,000 deep in a JSON body is 400', async () => {
    const r = await c.sender('PUT', '/maillist/limits/subscription', `{"email":"deep@example.org","params":${deepObjectJson(100_000)}}`);
    assert.deepEqual([r.status, r.json()], [400, senderError(TOO_DEEP)]);
    await unchanged();
  });

  it('sender: params nested 100,000 deep as the JSON string of a form field is 400 on that field', async () => {
    const body = `email=deep%40example.org&params=${encodeURIComponent(deepObjectJson(100_000))}`;
    const r = await c.sender('PUT', '/maillist/limits/subscription', body, 'application/x-www-form-urlencoded');
    assert.deepEqual([r.status, r.json()], [400, { result: { status: 'ERROR', error: { params: [`Value must be valid JSON: ${TOO_DEEP}.`] } } }]);
    await unchanged();
  });

  it('emailicious: a form key of 20,000 [0] segments is 400', async () => {
    const r = await c.emailicious(
      'POST',
      `/lists/${emailiciousList}/subscribers`,
      `email=deep%40example.org&x${'[0]'.repeat(20_000)}=1`,
      'application/x-www-form-urlencoded',
    );
    assert.equal(r.status, 400);
    assert.match((r.json() as { detail: string }).detail, /nested deeper than 64 levels/);
    await unchanged();
  });

  it('emailicious: a JSON body nested 100,000 deep is 400', async () => {
    const r = await c.emailicious('POST', `/lists/${emailiciousList}/subscribers`, `{"email":"deep@example.org","x":${deepJson(100_000)}}`);
    assert.deepEqual([r.status, r.json()], [400, { detail: `JSON parse error - ${TOO_DEEP}` }]);
    await unchanged();
  });

  it('jsonrpc: a recipient field nested 100,000 deep is -32602 invalid params', async () => {
    const r = await c.jsonRpc(addRecipient(`{"email":"deep@example.org","x":${deepJson(100_000)}}`));
    assert.deepEqual(r.json(), rpcError(-32602, `invalid params: ${TOO_DEEP}`));
    await unchanged();
  });

  it('jsonrpc: a recipient field at the limit is taken, as XML-RPC takes it', async () => {
    // params (not counted) > recipients array 1 > recipient struct 2 > 62 arrays: 64 levels.
    const r = await c.jsonRpc(addRecipient(`{"email":"limit@example.org","x":${deepJson(62)}}`));
    const answer = r.json() as { result: { email: string }[] };
    assert.equal(answer.result[0]!.email, 'limit@example.org');
    const over = await c.jsonRpc(addRecipient(`{"email":"over@example.org","x":${deepJson(63)}}`));
    assert.deepEqual(over.json(), rpcError(-32602, `invalid params: ${TOO_DEEP}`));
  });

  it('xml-rpc: a value nested 65 deep is fault -32700, as before', async () => {
    let v: unknown = 1;
    for (let i = 0; i < 65; i++) v = [v];
    const r = await c.xmlCall('add_recipients', [mailingId, [{ email: 'deep@example.org', x: v }]]);
    assert.match(r.text, /<int>-32700<\/int>.*nested deeper than 64 levels/s);
    await unchanged();
  });

  it('mailkit: an adduser custom field nested 100,000 deep is refused, nothing stored', async () => {
    const body = `{"function":"mailkit.mailinglist.adduser","id":"${gw.key.id}","md5":"${gw.key.secret}","parameters":{"ID_user_list":${listId},"personal":{"email":"deep@example.org"},"custom":{"custom1":${deepJson(100_000)}}}}`;
    const r = await c.mailkitJson(body);
    assert.deepEqual([r.status, r.json()], [200, { error_status: 1, error: `Invalid request: ${TOO_DEEP}` }]);
    await unchanged();
  });
});

describe('decoders: lone surrogates and bytes that are not UTF-8', () => {
  it('mailkit: "a\\ud800b" in a JSON adduser is bad input, not an internal error', async () => {
    const body = `{"function":"mailkit.mailinglist.adduser","id":"${gw.key.id}","md5":"${gw.key.secret}","parameters":{"ID_user_list":${listId},"personal":{"email":"s@example.org","first_name":"a\\ud800b"}}}`;
    const r = await c.mailkitJson(body);
    assert.deepEqual(r.json(), { error_status: 1, error: `Invalid request: ${LONE_SURROGATE}` });
    await unchanged();
  });

  it('jsonrpc: a lone surrogate in a parameter is -32602; bytes that are not UTF-8 are -32700', async () => {
    const r = await c.jsonRpc('{"jsonrpc":"2.0","id":1,"method":"create_mailing","params":["a@example.org","N","S\\udc00","<p>x</p>"]}');
    assert.deepEqual(r.json(), rpcError(-32602, `invalid params: ${LONE_SURROGATE}`));
    const bytes = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"create_mailing","params":["a@example.org","N","S'),
      Buffer.from([0xff]),
      Buffer.from('","<p>x</p>"]}'),
    ]);
    assert.deepEqual((await c.jsonRpc(bytes)).json(), rpcError(-32700, `parse error: ${NOT_UTF8}`, null));
    await unchanged();
  });

  it('sender: a lone surrogate, a byte that is not UTF-8, or an escape of one in a form or the query string is 400', async () => {
    const json = await c.sender('PUT', '/maillist/limits/subscription', '{"email":"s@example.org","params":{"name":"a\\ud800"}}');
    assert.deepEqual([json.status, json.json()], [400, senderError(LONE_SURROGATE)]);
    const bytes = await c.sender(
      'PUT',
      '/maillist/limits/subscription',
      Buffer.concat([Buffer.from('{"email":"s@example.org","params":{"name":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]),
    );
    assert.deepEqual([bytes.status, bytes.json()], [400, senderError(NOT_UTF8)]);
    const form = await c.sender(
      'PUT',
      '/maillist/limits/subscription',
      'email=s%40example.org&params=%7B%22n%22%3A%22%ED%A0%80%22%7D',
      'application/x-www-form-urlencoded',
    );
    assert.deepEqual([form.status, form.json()], [400, senderError('the text is not valid UTF-8 once its %-escapes are decoded')]);
    const query = await c.sender('PUT', '/maillist/limits/subscription?email=s%40example.org&x=%FF', '');
    assert.deepEqual([query.status, query.json()], [400, senderError('the text is not valid UTF-8 once its %-escapes are decoded')]);
    await unchanged();
  });

  it('emailicious: a lone surrogate in JSON, or a bad escape in a form or the query string, is 400', async () => {
    const json = await c.emailicious('POST', `/lists/${emailiciousList}/subscribers`, '{"email":"s@example.org","first_name":"\\ud800"}');
    assert.deepEqual([json.status, json.json()], [400, { detail: `JSON parse error - ${LONE_SURROGATE}` }]);
    const form = await c.emailicious(
      'POST',
      `/lists/${emailiciousList}/subscribers`,
      'email=s%40example.org&first_name=%C0%AF',
      'application/x-www-form-urlencoded',
    );
    assert.equal(form.status, 400);
    const query = await fetch(`${gw.url}/api/v1/lists/${emailiciousList}/subscribers?email=%FF`, {
      headers: { authorization: `Basic ${Buffer.from(`me@example.org:${gw.key.secret}`).toString('base64')}` },
    });
    assert.equal(query.status, 400);
    await unchanged();
  });

  it('xml-rpc: &#xD800; is fault -32700, as before', async () => {
    const r = await c.xmlRpc(
      `<?xml version="1.0"?><methodCall><methodName>create_mailing</methodName><params><param><value>a@example.org</value></param><param><value>&#xD800;</value></param></params></methodCall>`,
    );
    assert.match(r.text, /<int>-32700<\/int>/);
    await unchanged();
  });
});

describe('decoders: RFC 5321 lengths of an address', () => {
  const local64 = `${'l'.repeat(64)}@example.org`;
  const local65 = `${'l'.repeat(65)}@example.org`;

  it('a 65-octet local part is refused by every dialect; 64 is taken', async () => {
    const sender = await c.sender('PUT', '/maillist/limits/subscription', JSON.stringify({ email: local65 }));
    assert.deepEqual([sender.status, sender.json()], [400, senderError('Wrong email format')]);
    const mk = await c.mailkitJson(c.mailkitEnvelope('mailkit.mailinglist.adduser', { ID_user_list: listId, personal: { email: local65 } }));
    assert.deepEqual(mk.json(), { error_status: 1, error: 'Bad email syntax' });
    const em = await c.emailicious('POST', `/lists/${emailiciousList}/subscribers`, JSON.stringify({ email: local65 }));
    assert.deepEqual([em.status, em.json()], [400, { email: ['Enter a valid email address.'] }]);
    const rpc = await c.jsonRpc(addRecipient(JSON.stringify({ email: local65 })));
    assert.deepEqual((rpc.json() as { result: unknown[] }).result, [{ email: local65, error: `'email' field is not a regular email address: '${local65}'` }]);
    await unchanged();
    const ok = await c.sender('PUT', '/maillist/limits/subscription', JSON.stringify({ email: local64 }));
    assert.equal(ok.status, 200);
  });
});
