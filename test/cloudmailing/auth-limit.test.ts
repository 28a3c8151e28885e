/**
 * Repeated authentication failures from one address are slowed down over real HTTP: after 10 failures in a
 * minute the address gets 429 with Retry-After, even with a good key, until the window has passed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
const body = '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>';
const call = (secret: string) => fetch(`${gw.url}/CloudMailing`, { method: 'POST', headers: { authorization: basicAuthHeader(secret) }, body });

before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw.stop();
});

describe('cloudmailing: authentication failures are rate-limited', () => {
  it('answers fault 401 ten times, then 429 with Retry-After, good key included', async () => {
    assert.equal((await call(gw.key.secret)).status, 200);
    for (let i = 0; i < 10; i++) {
      const r = await call(`wrong-${i}`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), /<int>401<\/int>.*Authorization Failed!/s);
    }
    const limited = await call('wrong-again');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal((await call(gw.key.secret)).status, 429, 'a guessing address waits, whatever it sends');
    // No worker runs beside this gateway (/healthz is 503 for that): its database check is what says it still serves.
    assert.equal(((await (await fetch(`${gw.url}/healthz`)).json()) as { database: string }).database, 'ok', 'the rest of the server is unaffected');
  });
});
