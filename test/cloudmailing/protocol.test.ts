/**
 * CloudMailing wire protocol: auth, malformed input, DOCTYPE/entities, size limit, introspection, multicall,
 * value types (nil, dateTime with and without zone and separators).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authFailureLimiter, basicCredentials } from '../../src/adapters/auth.js';
import { parseIso8601Utc } from '../../src/rpc/xmlrpc.js';
import { accountId, authHeader, callXml, client, SEED_MAILING, startGateway, type Client, type Gateway } from './helpers.js';

let gw: Gateway;
let cm: Client;
const MAX_BODY = 64 * 1024;

before(async () => {
  gw = await startGateway({ MAX_BODY_BYTES: String(MAX_BODY) });
  cm = client(gw);
});
after(async () => gw?.stop());

async function mailingCount() {
  return await gw.core.mailings.count({ accountId: await accountId(gw), requestId: 't' }, {});
}

describe('cloudmailing: authentication', () => {
  it("answers a wrong secret with the original's fault 401 in an HTTP 200 answer, before reading the body", async () => {
    const a = await client(gw, 'not-the-secret').post('this is not even XML');
    assert.equal(a.status, 200);
    assert.deepEqual(a.fault, { faultCode: 401, faultString: 'Authorization Failed!' });
  });
  it('refuses a login other than admin (fault 401)', async () => {
    const a = await cm.post(callXml('get_mailings_count', []), { authorization: authHeader(gw.key.secret, 'root') });
    assert.equal(a.fault?.faultCode, 401);
  });
  it('answers a missing Authorization header with HTTP 401, WWW-Authenticate and a fault body', async () => {
    const res = await fetch(`${gw.url}/CloudMailing`, { method: 'POST', body: callXml('get_mailings_count', []) });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="CloudMailing"/);
    assert.match(await res.text(), /<name>faultCode<\/name><value><int>401<\/int>/);
  });
  it('refuses a revoked key', async () => {
    const k = await gw.core.accounts.createKey('acme', 'to revoke');
    assert.equal((await client(gw, k.secret).post(callXml('get_mailings_count', []))).fault, undefined);
    await gw.core.accounts.revokeKey(k.id);
    assert.equal((await client(gw, k.secret).post(callXml('get_mailings_count', []))).fault?.faultCode, 401);
  });
  it("makes secrets that never start with '-' (a command line would read an option)", async () => {
    // One in 64 would, by chance: 300 keys without one say the rule holds.
    const secrets = await Promise.all(Array.from({ length: 300 }, () => gw.core.accounts.createKey('dash-check').then((k) => k.secret)));
    assert.equal(secrets.filter((k) => k.startsWith('-')).length, 0);
    assert.ok(secrets.every((k) => /^[A-Za-z0-9_-]{32}$/.test(k)));
  });
  it('parses Basic credentials with a colon in the password', () => {
    assert.deepEqual(basicCredentials({ headers: { authorization: authHeader('a:b') } }), { user: 'admin', pass: 'a:b' });
    assert.equal(basicCredentials({ headers: { authorization: 'Bearer x' } }), undefined);
    assert.equal(basicCredentials({ headers: {} }), undefined);
  });
  it('limits failures per address: after 10 in a minute, wait', () => {
    let t = 0;
    const l = authFailureLimiter({ now: () => t });
    for (let i = 0; i < 9; i++) l.fail('1.2.3.4');
    assert.equal(l.retryAfter('1.2.3.4'), 0);
    l.fail('1.2.3.4');
    assert.equal(l.retryAfter('1.2.3.4'), 60);
    assert.equal(l.retryAfter('5.6.7.8'), 0);
    t = 30_000;
    assert.equal(l.retryAfter('1.2.3.4'), 30);
    t = 60_000;
    assert.equal(l.retryAfter('1.2.3.4'), 0);
  });
});

describe('cloudmailing: malformed requests', () => {
  const cases: [string, string][] = [
    ['not XML', 'garbage'],
    ['empty body', ''],
    ['unclosed tags', '<methodCall><methodName>get_mailings_count</methodName><params>'],
    ['unknown tag', callXml('get_mailings_count', ['<value><foo>1</foo></value>'])],
    ['a bad int', callXml('get_mailings_count', ['<value><int>12abc</int></value>'])],
    ['a bad boolean', callXml('get_mailings_count', ['<value><boolean>yes</boolean></value>'])],
    ['a bad dateTime', callXml('get_mailings_count', ['<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>'])],
    ['a member without name', callXml('get_mailings_count', ['<value><struct><member><value>1</value></member></struct></value>'])],
    ['a forbidden character reference', callXml('get_mailings_count', ['<value><string>a&#1;b</string></value>'])],
    ['an undeclared entity', callXml('get_mailings_count', ['<value><string>&nbsp;</string></value>'])],
    ['a methodResponse', '<?xml version="1.0"?><methodResponse><params><param><value>1</value></param></params></methodResponse>'],
    ['invalid UTF-8', '<methodCall><methodName>x\xff</methodName></methodCall>'],
  ];
  for (const [name, body] of cases) {
    it(`answers fault -32700 for ${name}`, async () => {
      const a = await cm.post(name === 'invalid UTF-8' ? Buffer.from(body, 'latin1') : body);
      assert.equal(a.status, 200);
      assert.equal(a.fault?.faultCode, -32700, a.body);
    });
  }

  it('refuses DOCTYPE / entity declarations (billion laughs) with -32700 and stores nothing', async () => {
    const before = await mailingCount();
    const lol = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
${callXml('create_mailing', ['<value><string>a@example.org</string></value>', '<value><string>&lol9;</string></value>', '<value><string>s</string></value>', '<value><string>h</string></value>']).replace(/^<\?xml[^>]*>\n/, '')}`;
    const a = await cm.post(lol);
    assert.equal(a.fault?.faultCode, -32700);
    assert.equal(await mailingCount(), before);
  });

  it('refuses an external entity (XXE) with -32700, nothing fetched or stored', async () => {
    const before = await mailingCount();
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${callXml('create_mailing', ['<value>a@example.org</value>', '<value>&xxe;</value>', '<value>s</value>', '<value>h</value>']).replace(/^<\?xml[^>]*>\n/, '')}`;
    const a = await cm.post(xxe);
    assert.equal(a.fault?.faultCode, -32700);
    assert.doesNotMatch(a.body, /root:/);
    assert.equal(await mailingCount(), before);
  });

  it('answers HTTP 413 for a body over MAX_BODY_BYTES', async () => {
    const big = callXml('create_mailing', [`<value><string>${'x'.repeat(MAX_BODY + 10)}</string></value>`]);
    const a = await cm.post(big);
    assert.equal(a.status, 413);
  });

  it('accepts any Content-Type', async () => {
    const a = await cm.post(callXml('get_mailings_count', []), { 'content-type': 'application/octet-stream' });
    assert.equal(a.status, 200);
    assert.equal(typeof a.value, 'number');
  });

  it('answers with Content-Type and Content-Length, and no ETag (an answer to a POST is never revalidated)', async () => {
    for (const a of [await cm.post(callXml('get_mailings_count', [])), await cm.post(callXml('no_such_method', []))]) {
      assert.equal(a.status, 200);
      assert.equal(a.headers.get('content-type'), 'text/xml; charset=utf-8');
      assert.equal(a.headers.get('content-length'), String(Buffer.byteLength(a.body)));
      assert.equal(a.headers.get('etag'), null);
    }
  });

  it('answers 405 to GET', async () => {
    const res = await fetch(`${gw.url}/CloudMailing`, { headers: { authorization: authHeader(gw.key.secret) } });
    assert.equal(res.status, 405);
  });
});

describe('cloudmailing: methods and params', () => {
  it('answers -32601 for an unknown method', async () => {
    assert.equal((await cm.fault('no_such_method')).faultCode, -32601);
    assert.equal((await cm.fault('__proto__')).faultCode, -32601);
    assert.equal((await cm.fault('toString')).faultCode, -32601);
  });
  it('answers -32602 for a wrong arity', async () => {
    const f = await cm.fault('create_mailing', 'a@example.org');
    assert.equal(f.faultCode, -32602);
    assert.match(f.faultString, /expected 4 to 6 parameters, got 1/);
    assert.equal((await cm.fault('start_mailing')).faultCode, -32602);
    assert.equal((await cm.fault('start_mailing', 1, new Date(), 3)).faultCode, -32602);
  });
  it('answers -32602 for a wrong type, naming the parameter', async () => {
    const f = await cm.fault('start_mailing', 'one');
    assert.equal(f.faultCode, -32602);
    assert.match(f.faultString, /parameter 1 \(mailing_id\) must be int, got string/);
    assert.equal((await cm.fault('add_recipients', 1, { email: 'a@example.org' })).faultCode, -32602);
    assert.equal((await cm.fault('set_mailing_properties', 1, [])).faultCode, -32602);
    // An integral double beyond 2^53 is not an id: refused here, never handed to the database.
    const huge = await cm.post(callXml('start_mailing', ['<value><double>1e300</double></value>']));
    assert.equal(huge.fault?.faultCode, -32602);
  });
  it('accepts nil for an optional parameter and refuses it for a required one', async () => {
    const a = await cm.post(callXml('list_mailings', ['<value><nil/></value>']));
    assert.deepEqual(a.value, []);
    const b = await cm.post(callXml('start_mailing', ['<value><nil/></value>']));
    assert.equal(b.fault?.faultCode, -32602);
  });
  it('never answers <nil/>', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const a = await cm.post(
      callXml('list_mailings', [
        `<value><struct><member><name>id</name><value><array><data><value><int>${id}</int></value></data></array></value></member></struct></value>`,
      ]),
    );
    assert.doesNotMatch(a.body, /<nil/);
    assert.equal(a.value[0].tracking_url, undefined);
    assert.equal(a.value[0].start_time, undefined);
  });
});

describe('cloudmailing: dateTime', () => {
  it('reads a zone-less value as UTC, with or without separators', () => {
    assert.equal(parseIso8601Utc('20261122T15:04:05').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc('2026-11-22T15:04:05').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc('20261122T150405').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc('2026-11-22T15:04:05Z').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc('2026-11-22T17:04:05+02:00').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc('20261122T100405-0500').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.throws(() => parseIso8601Utc('20261322T15:04:05'));
    assert.throws(() => parseIso8601Utc('20260230T15:04:05'));
  });
  for (const [label, wire] of [
    ['with separators', '2030-01-02T03:04:05'],
    ['without separators', '20300102T03:04:05'],
    ['compact', '20300102T030405'],
  ]) {
    it(`stores scheduled_start ${label} as UTC and answers it as YYYYMMDDTHH:MM:SS`, async () => {
      const id = await cm.call('create_mailing', ...SEED_MAILING);
      const set = await cm.post(
        callXml('set_mailing_properties', [
          `<value><int>${id}</int></value>`,
          `<value><struct><member><name>scheduled_start</name><value><dateTime.iso8601>${wire}</dateTime.iso8601></value></member></struct></value>`,
        ]),
      );
      assert.equal(set.value, 0, set.body);
      const m = await gw.core.mailings.get({ accountId: await accountId(gw), requestId: 't' }, id);
      assert.equal(m.scheduledStart?.toISOString(), '2030-01-02T03:04:05.000Z');
      const list = await cm.post(
        callXml('list_mailings', [
          `<value><struct><member><name>id</name><value><array><data><value><int>${id}</int></value></data></array></value></member></struct></value>`,
        ]),
      );
      assert.match(list.body, /<name>scheduled_start<\/name><value><dateTime.iso8601>20300102T03:04:05<\/dateTime.iso8601>/);
    });
  }
});

describe('cloudmailing: introspection', () => {
  it('system.listMethods lists every method of the contract', async () => {
    const names: string[] = await cm.call('system.listMethods');
    for (const m of [
      'create_mailing',
      'create_mailing_ext',
      'set_mailing_properties',
      'start_mailing',
      'pause_mailing',
      'delete_mailing',
      'delete_all_mailings_for_domain',
      'list_mailings',
      'get_mailings_count',
      'add_recipients',
      'send_test',
      'get_recipients_count',
      'get_recipients_status',
      'get_recipients_status_updated_since',
      'reset_recipients_status',
      'get_hourly_statistics',
      'system.listMethods',
      'system.methodHelp',
      'system.methodSignature',
      'system.multicall',
    ]) {
      assert.ok(names.includes(m), m);
    }
  });
  it('system.methodHelp and system.methodSignature describe a method', async () => {
    assert.match(await cm.call('system.methodHelp', 'add_recipients'), /tracking_id/);
    const sigs = await cm.call('system.methodSignature', 'create_mailing');
    assert.deepEqual(sigs[0], ['int', 'string', 'string', 'string', 'string']);
    assert.equal(sigs.length, 3);
    assert.equal((await cm.fault('system.methodHelp', 'nope')).faultCode, -32601);
  });
});

describe('cloudmailing: system.multicall', () => {
  it('wraps each result in a one-element array and each fault in a struct, in order', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const out = await cm.call('system.multicall', [
      { methodName: 'get_mailings_count', params: [{ id: [id] }] },
      { methodName: 'start_mailing', params: [999_999] },
      { methodName: 'no_such_method', params: [] },
      { methodName: 'system.multicall', params: [[]] },
      { methodName: 'start_mailing', params: ['x'] },
      'not a struct',
      { methodName: 'pause_mailing', params: [id] },
    ]);
    assert.equal(out.length, 7);
    assert.deepEqual(out[0], [1]);
    assert.equal(out[1].faultCode, 404);
    assert.equal(out[2].faultCode, -32601);
    assert.equal(out[3].faultCode, -32602);
    assert.equal(out[4].faultCode, -32602);
    assert.equal(out[5].faultCode, -32602);
    assert.equal(out[6].faultCode, 406, 'the original refuses to pause a mailing that has not started with 406');
  });
});

describe('cloudmailing: unexpected errors', () => {
  it('answers fault -32603 "internal error" without details, and keeps serving', async () => {
    const express = (await import('express')).default;
    const { cloudmailingRouters } = await import('../../src/adapters/cloudmailing/index.js');
    const { loadConfig } = await import('../../src/config.js');
    const { makeLogger } = await import('../../src/logger.js');
    const broken = {
      accounts: { authenticate: () => Promise.resolve({ accountId: 1, account: 'x', keyId: 1 }) },
      mailings: {
        count: () => Promise.reject(new Error('connection to 10.0.0.1 refused (secret detail)')),
        list: () => Promise.resolve([]),
      },
    };
    const app = express();
    app.use(
      '/CloudMailing',
      cloudmailingRouters({ core: broken as never, logger: makeLogger('silent'), config: loadConfig({}), authLimiter: authFailureLimiter() }).xmlRpc,
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const fake = { ...gw, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
      const c = client(fake, 'anything');
      const f = await c.fault('get_mailings_count');
      assert.deepEqual(f, { faultCode: -32603, faultString: 'internal error' });
      const out = await c.call('system.multicall', [
        { methodName: 'get_mailings_count', params: [] },
        { methodName: 'list_mailings', params: [] },
      ]);
      assert.equal(out[0].faultCode, -32603);
      assert.deepEqual(out[1], [[]]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
