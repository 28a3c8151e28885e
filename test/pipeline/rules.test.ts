/**
 * The pure rules of delivery: SMTP replies, suppression, retry delays, pacing, a send's deadline, recipient tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptOutcome, parseReply } from '../../src/core/delivery/outcome.js';
import { paceQuota } from '../../src/core/delivery/pacing.js';
import { signRecipientToken, verifyRecipientToken } from '../../src/core/delivery/tokens.js';
import { RETRY_DELAY_CAP_SECONDS, RETRY_GROWTH } from '../../src/core/delivery/retry.js';
import { VARIABLES } from '../../src/config.js';

describe('pipeline: rules', () => {
  it('parses SMTP replies', () => {
    assert.deepEqual(parseReply('550 5.1.1 user unknown'), { code: 550, enhanced: '5.1.1', text: 'user unknown' });
    assert.deepEqual(parseReply('250 OK: queued'), { code: 250, enhanced: null, text: 'OK: queued' });
    assert.deepEqual(parseReply('452-4.2.2 mailbox\n452 4.2.2 full'), { code: 452, enhanced: '4.2.2', text: 'mailbox full' });
    assert.deepEqual(parseReply('Connection closed', null), { code: null, enhanced: null, text: 'Connection closed' });
  });

  it('classifies outcomes and suppresses only missing mailboxes', () => {
    const status = (r: string) => attemptOutcome(parseReply(r)).status;
    const suppress = (r: string) => attemptOutcome(parseReply(r)).classification.suppress;
    assert.equal(status('250 ok'), 'finished');
    assert.equal(status('550 5.1.1 x'), 'error');
    assert.equal(status('421 4.4.2 x'), 'warning');
    assert.equal(status('552 5.2.2 mailbox full'), 'warning', '5.2.2 is counted soft');
    assert.equal(attemptOutcome({ code: null, enhanced: null, text: 'dropped' }).status, 'warning');
    for (const c of ['5.1.0', '5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10']) assert.ok(suppress(`550 ${c} x`), c);
    for (const c of ['5.2.2', '5.7.1', '5.6.0']) assert.ok(!suppress(`552 ${c} x`), c);
    // Never by words: without an enhanced code, no suppression whatever the text says.
    assert.ok(!suppress('550 No such user here'));
    assert.equal(status('550 No such user here'), 'error');
    assert.ok(!suppress('450 4.1.1 user unknown'));
  });

  it('paces evenly over the duration', () => {
    const startTime = new Date('2026-01-01T00:00:00Z');
    const at = (s: number) => new Date(startTime.getTime() + s * 1000);
    assert.equal(paceQuota({ startTime, durationMinutes: 10, total: 600, tried: 0, now: at(0) }).allowed, 1);
    assert.equal(paceQuota({ startTime, durationMinutes: 10, total: 600, tried: 1, now: at(0) }).allowed, 0);
    assert.equal(paceQuota({ startTime, durationMinutes: 10, total: 600, tried: 0, now: at(60) }).allowed, 60);
    const q = paceQuota({ startTime, durationMinutes: 10, total: 600, tried: 60, now: at(60) });
    assert.equal(q.allowed, 0);
    assert.ok(q.nextDue && q.nextDue > at(60) && q.nextDue <= at(61));
    assert.equal(paceQuota({ startTime, durationMinutes: 0, total: 600, tried: 0, now: at(0) }).allowed, Infinity);
  });

  it("the configuration's words for the retry backoff are the retry rules' values", () => {
    assert.equal(RETRY_GROWTH, 2, 'the doc says "doubles"');
    assert.match(VARIABLES.RETRY_BASE_SECONDS.doc, new RegExp(`at most ${RETRY_DELAY_CAP_SECONDS / 3600} hours`));
    assert.match(VARIABLES.RETRY_BASE_SECONDS.doc, /doubles each try/);
  });

  it('recipient tokens verify and cannot be forged', () => {
    const secret = Buffer.alloc(32, 1);
    const t = signRecipientToken(secret, 12345);
    assert.match(t, /^12345\.[A-Za-z0-9_-]{12}$/);
    assert.equal(verifyRecipientToken(secret, t), 12345);
    assert.equal(verifyRecipientToken(secret, t.replace(/^12345/, '12346')), null);
    assert.equal(verifyRecipientToken(Buffer.alloc(32, 2), t), null);
    assert.equal(verifyRecipientToken(secret, 'garbage'), null);
  });
});
