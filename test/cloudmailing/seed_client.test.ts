/**
 * The seed's Python calls, unchanged but for the URL, through Python's own xmlrpc.client against the gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGateway, type Gateway } from './helpers.js';

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(async () => gw?.stop());

function runPython(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [path.join(import.meta.dirname, 'seed_client.py'), ...args], {
      env: { ...process.env, TZ: 'UTC', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

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
