/**
 * The built-in messages' sender (src/core/subscriptions/sender.ts): `noreply@BOUNCE_DOMAIN`, qualified as postfix
 * qualifies a host name without a domain, so that a default install (BOUNCE_DOMAIN `localhost`) can confirm.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidEmail } from '../../src/core/email.js';
import { builtInSender } from '../../src/core/subscriptions/sender.js';

describe('subscriptions: the built-in sender', () => {
  it('is noreply@BOUNCE_DOMAIN for a domain an address can have', () => {
    assert.equal(builtInSender('bounces.example.org'), 'noreply@bounces.example.org');
    assert.equal(builtInSender('Mail.Example.ORG.'), 'noreply@mail.example.org', 'lower-cased, the root dot dropped');
    assert.equal(builtInSender('mail.localhost'), 'noreply@mail.localhost');
  });

  it('qualifies a host without a domain with localdomain (localhost, an IP address: localhost.localdomain)', () => {
    assert.equal(builtInSender('localhost'), 'noreply@localhost.localdomain');
    assert.equal(builtInSender('LOCALHOST'), 'noreply@localhost.localdomain');
    assert.equal(builtInSender('mailhost'), 'noreply@mailhost.localdomain');
    for (const address of ['127.0.0.1', '192.0.2.10', '[::1]', '::1', '10', 'a..b', 'host.example.123'])
      assert.equal(builtInSender(address), 'noreply@localhost.localdomain', address);
  });

  it('is always an address the gateway itself accepts as a sender', () => {
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'intranet', 'x_y', '-bad-', 'example.org', 'a.b.c.example', 'ünïcode'])
      assert.ok(isValidEmail(builtInSender(host)), `${host} -> ${builtInSender(host)}`);
  });
});
