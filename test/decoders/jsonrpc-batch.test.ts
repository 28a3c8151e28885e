/**
 * JSON-RPC 2.0 batches (section 6): every item gets its own answer in its own slot; an item that is not a
 * request object is -32600 Invalid Request for that item; a batch inside a batch is never executed; an empty
 * batch is one -32600. jayson alone never answered a batch holding an array.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { clients, deepJson, snapshot } from './support.js';

let gw: TestGateway;
let c: ReturnType<typeof clients>;
before(async () => {
  gw = await startTestGateway();
  c = clients(gw);
});
after(async () => gw?.stop());

const invalid = { jsonrpc: '2.0', error: { code: -32600, message: 'invalid request: a batch inside a batch is not executed' }, id: null };
const create = (id: number) => ({ jsonrpc: '2.0', id, method: 'create_mailing', params: ['a@example.org', 'N', 'S', '<p>x</p>'] });

describe('jsonrpc: batches holding arrays', () => {
  for (const body of ['[[1]]', '[[]]', JSON.stringify([[create(1)]])]) {
    it(`answers ${body.slice(0, 30)} with one -32600 in the item's slot, and runs nothing`, async () => {
      const before = await snapshot(gw.pool);
      const r = await c.jsonRpc(body);
      assert.deepEqual([r.status, r.json()], [200, [invalid]]);
      assert.deepEqual(await snapshot(gw.pool), before);
    });
  }

  it('answers an array nested 100,000 deep (one item: an array) and stays up', async () => {
    const r = await c.jsonRpc(deepJson(100_000));
    assert.deepEqual([r.status, r.json()], [200, [invalid]]);
    const up = await c.jsonRpc('{"jsonrpc":"2.0","id":2,"method":"get_mailings_count","params":[]}');
    assert.deepEqual(up.json(), { jsonrpc: '2.0', id: 2, result: 0 });
  });

  it('keeps every slot of a mixed batch in order: a call, a nested batch, a number, a notification', async () => {
    const r = await c.jsonRpc(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'get_mailings_count', params: [] },
        [{ jsonrpc: '2.0', id: 'b', method: 'get_mailings_count', params: [] }],
        1,
        { jsonrpc: '2.0', method: 'get_mailings_count', params: [] },
      ]),
    );
    assert.deepEqual(r.json(), [
      { jsonrpc: '2.0', id: 'a', result: 0 },
      invalid,
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request' }, id: null },
    ]);
  });

  it('answers an empty batch with one -32600', async () => {
    const r = await c.jsonRpc('[]');
    assert.deepEqual(r.json(), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request' }, id: null });
  });
});
