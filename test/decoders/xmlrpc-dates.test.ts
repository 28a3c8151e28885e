/**
 * XML-RPC dateTime values of any four-digit year come back as sent (found by the round-trip property of
 * bench/fuzz.ts: years 0-99 were read as 1900-1999).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMethodCall, encodeMethodCall, parseIso8601Utc } from '../../src/rpc/xmlrpc.js';

describe('xml-rpc: dateTime years', () => {
  it('reads years 0-99 as themselves, and round-trips them', () => {
    assert.equal(parseIso8601Utc('00500102T03:04:05').toISOString(), '0050-01-02T03:04:05.000Z');
    assert.equal(parseIso8601Utc('0000-02-29T00:00:00Z').toISOString(), '0000-02-29T00:00:00.000Z');
    const d = new Date('0099-12-31T23:59:59Z');
    assert.deepEqual(decodeMethodCall(Buffer.from(encodeMethodCall('m', [d]))).params, [d]);
  });

  it('still refuses a day the month does not have', () => {
    assert.throws(() => parseIso8601Utc('19000229T00:00:00'), /not a valid date/);
    assert.throws(() => parseIso8601Utc('20260431T00:00:00'), /not a valid date/);
  });
});
