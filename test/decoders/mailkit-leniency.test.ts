/**
 * Mailkit's leniency, decided: a call with more parameters than the function takes is refused (no client seen
 * sends more: igloonet's and Mailkit's PHP clients send exactly the documented ones), and a user-data section
 * (personal, address, custom) that is neither a struct nor empty is `Invalid <section>`; nothing is stored
 * either way. An empty array is an empty section: PHP encodes an array without fields so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { clients, snapshot } from './support.js';

let gw: TestGateway;
let c: ReturnType<typeof clients>;
let listId: number;
before(async () => {
  gw = await startTestGateway();
  c = clients(gw);
  const created = await c.mailkitJson(c.mailkitEnvelope('mailkit.mailinglist.create', { name: 'leniency' }));
  listId = Number((created.json() as { data: string }).data);
  assert.ok(listId > 0, created.text);
});
after(async () => gw?.stop());

const xmlString = (text: string) =>
  `<?xml version="1.0" encoding="utf-8"?><methodResponse><params><param><value><string>${text}</string></value></param></params></methodResponse>`;

describe('mailkit: more parameters than a function takes', () => {
  it('mailinglist.create with 10,000 parameters is refused and creates nothing', async () => {
    const before = await snapshot(gw.pool);
    const r = await c.mailkitXml('mailkit.mailinglist.create', ['extra', 'description', ...Array.from({ length: 9_998 }, (_, i) => `p${i}`)]);
    assert.equal(r.text, xmlString('Too many parameters: mailkit.mailinglist.create takes 4 (client_id, client_md5, name, description)'));
    assert.deepEqual(await snapshot(gw.pool), before);
  });

  it('the documented parameters, or fewer, are taken', async () => {
    assert.match((await c.mailkitXml('mailkit.mailinglist.create', ['two params', 'described'])).text, /<i4>\d+<\/i4>/);
    assert.match((await c.mailkitXml('mailkit.mailinglist.create', ['one param'])).text, /<i4>\d+<\/i4>/);
  });
});

describe('mailkit: user-data sections', () => {
  for (const [encoding, call] of [
    [
      'json',
      (custom: unknown) =>
        c.mailkitJson(c.mailkitEnvelope('mailkit.mailinglist.adduser', { ID_user_list: listId, personal: { email: 'c@example.org' }, custom })),
    ],
    ['xml', (custom: unknown) => c.mailkitXml('mailkit.mailinglist.adduser', [listId, 'FALSE', { email: 'c@example.org' }, {}, custom])],
  ] as const) {
    it(`${encoding}: a custom that is not a struct is Invalid custom, nothing stored`, async () => {
      const before = await snapshot(gw.pool);
      for (const custom of ['custom1', 7, ['a', 'b']]) {
        const r = await call(custom);
        if (encoding === 'json') assert.deepEqual(r.json(), { error_status: 1, error: 'Invalid custom' });
        else assert.equal(r.text, xmlString('Invalid custom'));
      }
      assert.deepEqual(await snapshot(gw.pool), before);
    });
  }

  it('an empty array (PHP without custom fields) is an empty section', async () => {
    const r = await c.mailkitJson(
      c.mailkitEnvelope('mailkit.mailinglist.adduser', { ID_user_list: listId, personal: { email: 'empty@example.org' }, custom: [] }),
    );
    assert.equal((r.json() as { error_status: number }).error_status, 0);
  });
});
