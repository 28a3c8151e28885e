/**
 * Bounce classification, a table by code (src/core/bounces/classify.ts): the same rules for replies during
 * sending and for reports received later.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, normalizeEnhanced } from '../../src/core/bounces/classify.js';

describe('bounces: classification by code, never by words', () => {
  it('goes by the enhanced code when there is one', () => {
    const cases: [number | null, string | null, string, boolean, string][] = [
      [550, '5.1.1', 'permanent', true, 'address'],
      [550, '5.1.10', 'permanent', true, 'address'],
      [554, '5.7.1', 'permanent', false, 'policy'],
      [552, '5.3.4', 'permanent', false, 'system'],
      [550, '5.6.0', 'permanent', false, 'message'],
      [552, '5.2.2', 'temporary', false, 'mailbox'],
      [550, '4.2.2', 'temporary', false, 'mailbox'],
      [451, '4.4.1', 'temporary', false, 'network'],
      [250, '2.0.0', 'delivered', false, 'other'],
    ];
    for (const [replyCode, enhanced, outcome, suppress, category] of cases) {
      const c = classify({ replyCode, enhanced });
      assert.deepEqual(c, { outcome, suppress, category: enhanced?.startsWith('2') ? 'other' : category }, `${replyCode} ${enhanced}`);
    }
  });

  it('falls back to the reply code, with 552 counted soft; a dropped connection is temporary', () => {
    assert.equal(classify({ replyCode: 550, enhanced: null }).outcome, 'permanent');
    assert.equal(classify({ replyCode: 550, enhanced: null }).suppress, false);
    assert.equal(classify({ replyCode: 552, enhanced: null }).outcome, 'temporary');
    assert.equal(classify({ replyCode: 421, enhanced: null }).outcome, 'temporary');
    assert.equal(classify({ replyCode: null, enhanced: null }).outcome, 'temporary');
    assert.equal(classify({ replyCode: null, enhanced: null, action: 'failed' }).outcome, 'permanent');
  });

  it("lets a report's Action decide first", () => {
    assert.equal(classify({ replyCode: 550, enhanced: '5.1.1', action: 'delayed' }).outcome, 'temporary');
    assert.equal(classify({ replyCode: null, enhanced: '2.0.0', action: 'delivered' }).outcome, 'delivered');
    assert.equal(classify({ replyCode: null, enhanced: '5.1.1', action: 'failed' }).suppress, true);
  });

  it('normalizes enhanced codes and refuses what is not one', () => {
    assert.equal(normalizeEnhanced('5.01.001'), '5.1.1');
    assert.equal(normalizeEnhanced(' 4.4.7 '), '4.4.7');
    assert.equal(normalizeEnhanced('6.1.1'), null);
    assert.equal(normalizeEnhanced('5.1'), null);
    assert.equal(normalizeEnhanced(null), null);
  });
});
