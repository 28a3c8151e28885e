/**
 * The seed's Python calls, unchanged but for the URL, through Python's own xmlrpc.client against the gateway.
 */
import assert from 'node:assert/strict';
import { runProcess } from '../support/process.js';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGateway, type Gateway } from './helpers.js';

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(async () => gw?.stop());

const runPython = (args: string[], env: Record<string, string> = {}) =>
  runProcess('python3', [path.join(import.meta.dirname, 'seed_client.py'), ...args], { env: { TZ: 'UTC', ...env } });

describe('cloudmailing: the seed with Python xmlrpc.client', () => {
  it('runs every call of the seed and gets the documented shapes', async () => {
    const port = new URL(gw.url).port;
    const r = await runPython([port, gw.key.secret]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.status, 'READY');
    assert.equal(out.total_recipient, 2);
  });
});
