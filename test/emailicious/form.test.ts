/**
 * Emailicious form keys: the bodies Emailicious' PHP client writes (its QueryAggregator's dotted keys, repeated
 * keys for lists, bare keys for null), DRF's `[0]name`, PHP's `[0][name]` and `[]`, all read back as the
 * nested request; malformed keys refused with the key named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formPairs, keyPath, unflatten } from '../../src/adapters/emailicious/values.js';
import { isDomainError } from '../../src/core/errors.js';

describe('emailicious form keys', () => {
  it("reads Mailing::create's body as the PHP client encodes it (rawurlencode, brackets escaped, dots kept)", () => {
    const body =
      'list=1&name=Mailing&campaign=1&segments=1&segments=2&segments=3' +
      '&variants%5B0%5D.from_email=from%40email.local&variants%5B0%5D.from_name=From%20name&variants%5B0%5D.replyto_email' +
      '&variants%5B0%5D.subject=Subject&variants%5B0%5D.layout.text=text' +
      '&variants%5B0%5D.deliveries%5B0%5D.scheduled_datetime=2015-05-25T14%3A00%3A00';
    assert.deepEqual(unflatten(formPairs(body)), {
      list: '1',
      name: 'Mailing',
      campaign: '1',
      segments: ['1', '2', '3'],
      variants: [
        {
          from_email: 'from@email.local',
          from_name: 'From name',
          replyto_email: null,
          subject: 'Subject',
          layout: { text: 'text' },
          deliveries: [{ scheduled_datetime: '2015-05-25T14:00:00' }],
        },
      ],
    });
  });

  it("merges the multipart file part's undotted name with the dotted text fields of the same variant", () => {
    const file = { filename: 'layout.zip', contentType: 'application/zip', data: Buffer.from('PK') };
    const r = unflatten([
      ['variants[0].layout.text', 'text'],
      ['variants[0]layout.zip_file', file],
      ['variants[1].language', 'fr'],
    ]);
    assert.deepEqual(r, { variants: [{ layout: { text: 'text', zip_file: file } }, { language: 'fr' }] });
  });

  it("reads DRF's and PHP's own spellings of the same paths; indexes in order, holes closed", () => {
    const drf = unflatten([
      ['variants[0]subject', 'S'],
      ['variants[0]deliveries[0]scheduled_datetime', 'D'],
    ]);
    const php = unflatten([
      ['variants[0][subject]', 'S'],
      ['variants[0][deliveries][0][scheduled_datetime]', 'D'],
    ]);
    assert.deepEqual(drf, php);
    assert.deepEqual(drf, { variants: [{ subject: 'S', deliveries: [{ scheduled_datetime: 'D' }] }] });
    assert.deepEqual(unflatten(formPairs('segments%5B%5D=1&segments%5B%5D=2&x=a+b')), { segments: ['1', '2'], x: 'a b' });
    assert.deepEqual(
      unflatten([
        ['v[2]', 'c'],
        ['v[0]', 'a'],
      ]),
      { v: ['a', 'c'] },
    );
    assert.deepEqual(keyPath('variants[0].deliveries[1].limit'), ['variants', 0, 'deliveries', 1, 'limit']);
  });

  it('refuses malformed keys and shapes, naming the key; never writes to prototypes', () => {
    const refuses = (pairs: [string, string][], message: RegExp) =>
      assert.throws(
        () => unflatten(pairs),
        (e: unknown) => isDomainError(e) && e.code === 'INVALID_ARGUMENT' && message.test(e.message),
      );
    refuses([['variants[0', 'x']], /"variants\[0": "\[" without "\]"/);
    refuses([['[0]x', 'x']], /no field name/);
    refuses([['a.', 'x']], /empty field name after "\."/);
    refuses(
      [
        ['list', '1'],
        ['list.name', 'x'],
      ],
      /: list is given both as a value and as fields/,
    );
    refuses(
      [
        ['a.b', '1'],
        ['a', 'x'],
      ],
      /: a is given both as a value and as fields/,
    );
    refuses(
      [
        ['v[0]', '1'],
        ['v.x', '2'],
      ],
      /: v is given both .* as a list and as named fields/,
    );
    refuses([['__proto__.polluted', 'yes']], /__proto__ is not a field name/);
    refuses([['a[constructor]', 'x']], /constructor is not a field name/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.throws(() => formPairs('a=%E0%A4%A'), /malformed escape/);
  });
});
