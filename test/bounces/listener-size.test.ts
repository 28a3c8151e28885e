/**
 * The bounce listener and its SIZE limit: a message over it is answered 552 and never held in memory whole.
 * What is over the limit is read and discarded, so the bytes held for one message stay at the limit whatever
 * the client sends; a message within the limit is still taken whole.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startBounceListener, type BounceListener } from '../../src/bounces/listener.js';
import { signRecipientToken } from '../../src/core/delivery/tokens.js';
import { makeLogger } from '../../src/logger.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const LIMIT = 64 * 1024;
const DOMAIN = 'bounces.size.test';
const secret = randomBytes(32);
let gw: TestGateway;
let listener: BounceListener;

before(async () => {
  gw = await startTestGateway();
  listener = await startBounceListener({
    core: gw.core,
    secret,
    bounceDomain: DOMAIN,
    host: '127.0.0.1',
    port: 0,
    logger: makeLogger('silent'),
    maxMessageBytes: LIMIT,
  });
});
after(async () => {
  await listener?.stop();
  await gw?.stop();
});

/** Raw bytes to a genuine VERP address of the listener; the SMTP reply of DATA, or the error it raised. */
async function deliver(raw: string): Promise<{ ok: true } | { ok: false; responseCode: number | undefined }> {
  // SIZE is not announced by the client: the whole message goes over the wire and the server must judge it.
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: listener.port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to: `bounces+${signRecipientToken(secret, 424242)}@${DOMAIN}` }, raw });
    return { ok: true };
  } catch (e) {
    return { ok: false, responseCode: (e as { responseCode?: number }).responseCode };
  } finally {
    t.close();
  }
}

const message = (bodyBytes: number) => `From: mta@example.net\r\nSubject: big\r\n\r\n${`${'x'.repeat(998)}\r\n`.repeat(Math.ceil(bodyBytes / 1000))}`;

describe('bounce listener: SIZE', () => {
  it('answers 552 to a message of eight times the limit and holds no more than the limit of it', async () => {
    const answer = await deliver(message(8 * LIMIT));
    assert.deepEqual(answer, { ok: false, responseCode: 552 });
    assert.ok(listener.peakBufferedBytes() <= LIMIT, `held ${listener.peakBufferedBytes()} bytes, limit ${LIMIT}`);
  });

  it('still takes a message within the limit whole', async () => {
    const answer = await deliver(message(LIMIT / 2));
    assert.deepEqual(answer, { ok: true });
    assert.ok(listener.peakBufferedBytes() >= LIMIT / 2);
  });
});
