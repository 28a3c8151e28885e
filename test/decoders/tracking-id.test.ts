/**
 * Generated tracking ids: UUIDs of the version 7 layout, time-ordered (the unique index takes them at its right
 * edge), random after the time, never repeated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newTrackingId } from '../../src/core/recipients/tracking-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generated tracking ids', () => {
  it('are version 7 UUIDs carrying the creation time in milliseconds', () => {
    const at = Date.UTC(2026, 11, 7, 1, 2, 3, 456);
    const id = newTrackingId(at);
    assert.match(id, UUID_V7);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
  });

  it('sort by creation time, whatever their random part', () => {
    const ids = [0, 1, 2, 1000, 2 ** 40, 2 ** 47].map((ms) => newTrackingId(Date.UTC(2026, 0, 1) + ms));
    assert.deepEqual([...ids].sort(), ids);
  });

  it('differ within one millisecond', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newTrackingId(at)));
    assert.equal(ids.size, 10_000);
  });

  it('take every value in each random position, and the variant 8, 9, a or b', () => {
    const at = Date.now();
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...newTrackingId(at)].forEach((c, k) => seen[k]!.add(c));
    const random = [15, 16, 17, 20, 21, 22, ...Array.from({ length: 12 }, (_, k) => 24 + k)];
    for (const k of random) assert.equal(seen[k]!.size, 16, `position ${k}`);
    assert.deepEqual([...seen[19]!].sort(), ['8', '9', 'a', 'b']);
    assert.deepEqual([...seen[14]!], ['7']);
  });
});
