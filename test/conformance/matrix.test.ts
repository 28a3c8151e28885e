/**
 * The conformance matrix (matrix.ts) run against one real gateway: every dialect, every scenario, every call
 * of the cell made as the dialect's real clients make it (clients.ts). Each call must get exactly the answer
 * the table states, name nothing internal, and leave every stored table as it was.
 *
 * The cells run one after the other, dialect by dialect: the per-address limit on failed authentications
 * (10 a minute) is reset by the successful calls between two dialects' bad-credentials cells.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { http, PythonXmlRpc, type Answer } from './clients.js';
import { DIALECTS, LIMITS, MATRIX, SCENARIOS, UNKNOWN, type Call, type Expected, type Fixtures } from './matrix.js';
import { internalNamesChecker, stateReader } from './state.js';

let gw: TestGateway;
let python: PythonXmlRpc;
let f: Fixtures;
let readState: () => Promise<Record<string, string>>;
let internalNames: (text: string) => string[];

before(async () => {
  gw = await startTestGateway({ env: { MAX_BODY_BYTES: String(LIMITS.MAX_BODY_BYTES), MAX_RECIPIENTS_PER_CALL: String(LIMITS.MAX_RECIPIENTS_PER_CALL) } });
  python = new PythonXmlRpc();
  f = await fixtures(gw);
  readState = await stateReader(gw.pool);
  internalNames = await internalNamesChecker(gw.pool);
});
after(async () => {
  python?.close();
  await gw?.stop();
});

async function fixtures(gw: TestGateway): Promise<Fixtures> {
  const { core } = gw;
  const mineCtx = { accountId: (await core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 'fixtures' };
  const mailing = await core.mailings.create(mineCtx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'News', text: 'Hello' });
  const list = await core.lists.createWithSlug(mineCtx, { slug: 'news', name: 'News' });
  const [sub] = await core.lists.subscribe(mineCtx, list, [{ email: 'ann@example.org', params: { name: 'Ann' } }]);
  await core.unsubscribeLists.create(mineCtx, { slug: 'my-unsubs' });

  const key = await core.accounts.createKey('other', 'the other account');
  const ctx = { accountId: (await core.accounts.authenticate(key.secret))!.accountId, requestId: 'fixtures' };
  const theirMailing = await core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'their@example.org', subject: 'Theirs', text: 'Hello' });
  const [recipient] = await core.recipients.add(ctx, theirMailing, [{ email: 'carl@example.org', fields: { name: 'Carl' } }]);
  const theirList = await core.lists.createWithSlug(ctx, { slug: 'their-news', name: 'Their news' });
  const [theirSub] = await core.lists.subscribe(ctx, theirList, [{ email: 'bob@example.org', params: { name: 'Bob' } }]);
  const newsletter = await core.newsletters.create(ctx, {
    dialect: 'emailicious',
    listId: theirList,
    name: 'Their mailing',
    variants: [{ fromEmail: 'their@example.org', subject: 'Hello', text: 'Hello', deliveries: [] }],
  });
  const campaign = await core.mailings.create(ctx, { dialect: 'sender', name: 'their-order', fromEmail: 'their@example.org', subject: 'Order', text: 'Order' });
  const task = await core.tasks.bulkPut(ctx, theirList, [{ email: 'dan@example.org' }], {});
  await core.unsubscribeLists.create(ctx, { slug: 'their-unsubs' });

  assert.ok(sub && !('error' in sub) && theirSub && !('error' in theirSub) && recipient && 'id' in recipient);
  // Mailkit's ID_email names a subscriber or a recipient: the other account's must name nothing of ours.
  assert.equal(await core.suppressions.addressOfId(mineCtx, theirSub.id), undefined);
  assert.equal(await core.suppressions.addressOfId(mineCtx, UNKNOWN.id), undefined);
  return {
    key: { id: gw.key.id, secret: gw.key.secret },
    mine: { mailing, list: { id: list, slug: 'news' }, subscriber: { id: sub.id, email: 'ann@example.org' }, unsubscribeList: 'my-unsubs' },
    other: {
      account: 'other',
      key: { id: key.id, secret: key.secret },
      mailing: theirMailing,
      recipient: recipient.id,
      list: { id: theirList, slug: 'their-news' },
      subscriber: { id: theirSub.id, email: 'bob@example.org' },
      newsletter,
      campaign: { name: 'their-order', id: campaign },
      task: task.taskId,
      unsubscribeList: 'their-unsubs',
    },
  };
}

async function run(call: Call): Promise<Answer> {
  if ('xmlrpc' in call) {
    const url = new URL(call.xmlrpc, gw.url);
    if (call.auth) [url.username, url.password] = [call.auth.user, call.auth.pass];
    return await python.call(url.toString(), call.method, call.params, { allowNone: call.xmlrpc === '/rpc.fcgi' });
  }
  const headers: Record<string, string> = {};
  if (call.auth) headers.authorization = basicAuthHeader(call.auth.pass, call.auth.user);
  if (call.accept) headers.accept = call.accept;
  return await http(new URL(call.path, gw.url).toString(), {
    method: call.http,
    headers,
    ...(call.json !== undefined ? { json: call.json } : {}),
    ...(call.form ? { form: call.form } : {}),
  });
}

/** The parts of an answer a cell states; a header it does not state must be absent. */
function seen(a: Answer, e: Expected) {
  return {
    status: a.status,
    contentType: a.contentType,
    wwwAuthenticate: a.wwwAuthenticate,
    allow: a.allow,
    vary: a.vary,
    body: a.body,
    ...(e.client ? { client: a.client } : {}),
  };
}
const stated = (e: Expected) => ({ wwwAuthenticate: null, allow: null, vary: null, ...e });

const label = (c: Call) => ('xmlrpc' in c ? `${c.xmlrpc} ${c.method}` : `${c.http} ${c.path}`);

describe('conformance: the same scenarios through every dialect', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, () => {
      for (const scenario of SCENARIOS) {
        it(scenario, async () => {
          const probes = MATRIX[dialect][scenario](f);
          assert.ok(probes.length > 0);
          let stored = await readState();
          for (const [i, { call, answer, storesToday }] of probes.entries()) {
            const what = `${dialect}, ${scenario}, call ${i + 1}: ${label(call)}`;
            const a = await run(call);
            assert.deepEqual(seen(a, answer), stated(answer), what);
            assert.deepEqual(internalNames(a.body), [], `${what}: the answer names internal identifiers`);
            const now = await readState();
            const changed = Object.keys(now).filter((t) => now[t] !== stored[t]);
            assert.deepEqual(changed, storesToday?.tables ?? [], `${what}: stored state changed`);
            stored = now;
          }
        });
      }
    });
  }
});
