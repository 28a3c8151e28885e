/**
 * No answer names an internal identifier: a core error carries the core's name of the field at fault
 * (`fromEmail`), and each dialect's errors.ts answers it under the dialect's own name or not at all. The same
 * errors through every dialect's mapping, each dialect's expected answer stated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../src/core/errors.js';
import { toFault } from '../../src/rpc/faults.js';
import { spelling } from '../../src/adapters/cloudmailing/errors.js';
import { errorText } from '../../src/adapters/mailkit/errors.js';
import { senderErrorOf } from '../../src/adapters/sender/errors.js';
import { emailiciousErrorOf } from '../../src/adapters/emailicious/errors.js';

/** The sender check of a mailing the gateway makes itself (the built-in confirmation), refused. */
const internal = new DomainError('INVALID_ARGUMENT', 'not an e-mail address: "noreply@localhost"', 'fromEmail');
const taken = new DomainError('INVALID_ARGUMENT', 'a mailing named "x" exists', 'mailingName', { kind: 'taken' });

const answers = (e: DomainError) => ({
  cloudmailing: toFault(e, spelling).faultString,
  mailkit: errorText(e).text,
  sender: JSON.stringify(senderErrorOf(e).body),
  emailicious: JSON.stringify(emailiciousErrorOf(e, 'mailing').body),
});

describe("conformance: a core field name reaches no dialect's answer", () => {
  it('a field the dialect has a name for is answered under it', () => {
    const e = new DomainError('INVALID_ARGUMENT', 'not an e-mail address: "x"', 'fromEmail');
    assert.equal(toFault(e, spelling).faultString, 'mail_from: not an e-mail address: "x"');
    const email = new DomainError('INVALID_ARGUMENT', 'invalid email address: "x"', 'email');
    assert.equal(errorText(email).text, 'Invalid parameter email: invalid email address: "x"');
    assert.deepEqual(senderErrorOf(new DomainError('INVALID_ARGUMENT', 'at least one item', 'items')).body, {
      result: { status: 'ERROR', error: { items: ['at least one item'] } },
    });
    assert.deepEqual(emailiciousErrorOf(new DomainError('INVALID_ARGUMENT', 'x', 'variants.1.layout.zip_file')).body, {
      variants: [{}, { layout: { zip_file: ['x'] } }],
    });
  });

  it('a field it has none for is left out: the message alone, a detail, non_field_errors', () => {
    // `mail_from` is CloudMailing's own name for a mailing's sender; the others have none.
    assert.deepEqual(answers(internal), {
      cloudmailing: 'mail_from: not an e-mail address: "noreply@localhost"',
      mailkit: 'Invalid parameter: not an e-mail address: "noreply@localhost"',
      sender: JSON.stringify({ result: { status: 'ERROR', error: { detail: 'not an e-mail address: "noreply@localhost"' } } }),
      emailicious: JSON.stringify({ non_field_errors: ['not an e-mail address: "noreply@localhost"'] }),
    });
    assert.deepEqual(answers(taken), {
      cloudmailing: 'a mailing named "x" exists',
      mailkit: 'Invalid parameter: a mailing named "x" exists',
      sender: JSON.stringify({ result: { status: 'ERROR', error: { detail: 'a mailing named "x" exists' } } }),
      emailicious: JSON.stringify({ non_field_errors: ['a mailing named "x" exists'] }),
    });
  });
});
