/**
 * The input rules themselves (src/core/input.ts) and the one address check (src/core/email.ts) with RFC 5321's
 * lengths: what every decoder relies on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidEmail } from '../../src/core/email.js';
import { escapedTextProblem, hasLoneSurrogate, inputProblem, LONE_SURROGATE, MAX_DEPTH, TOO_DEEP } from '../../src/core/input.js';

describe('input rules', () => {
  it('measures nesting without recursion: 64 levels pass, 65 and 1,000,000 do not', () => {
    const nest = (n: number) => {
      let v: unknown = 'x';
      for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
      return v;
    };
    assert.equal(inputProblem(nest(MAX_DEPTH)), undefined);
    assert.equal(inputProblem(nest(MAX_DEPTH + 1)), TOO_DEEP);
    assert.equal(inputProblem(nest(1_000_000)), TOO_DEEP);
    assert.equal(inputProblem(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000))), TOO_DEEP);
  });

  it('finds a lone surrogate in any string or member name, and takes pairs', () => {
    assert.equal(hasLoneSurrogate('a\u{1F600}b'), false);
    for (const bad of ['\ud800', 'a\ud800b', '\udc00', 'x\ud83d', '\ude00\ud83d']) assert.equal(hasLoneSurrogate(bad), true, JSON.stringify(bad));
    assert.equal(inputProblem({ a: [1, { b: 'ok\ud800' }] }), LONE_SURROGATE);
    assert.equal(inputProblem({ ['k\udfff']: 1 }), LONE_SURROGATE);
    assert.equal(inputProblem({ a: ['\u{1F600}', null, 1, true] }), undefined);
  });

  it('decodes %-escapes to bytes before judging UTF-8; plain ASCII and valid escapes pass', () => {
    assert.equal(escapedTextProblem('a=1&b=%C3%A9+x'), undefined);
    assert.equal(escapedTextProblem('a=%'), undefined);
    assert.equal(escapedTextProblem('a=%zz'), undefined);
    for (const bad of ['a=%FF', 'a=%ED%A0%80', 'a=%C0%AF', 'a=%C3']) assert.ok(escapedTextProblem(bad), bad);
    assert.ok(escapedTextProblem(Buffer.from([0x61, 0x3d, 0xff])));
  });
});

describe('addresses: RFC 5321 lengths', () => {
  const label63 = 'd'.repeat(63);
  it('a local part of 64 octets passes, 65 does not', () => {
    assert.equal(isValidEmail(`${'a'.repeat(64)}@example.org`), true);
    assert.equal(isValidEmail(`${'a'.repeat(65)}@example.org`), false);
  });
  it('an address of 254 octets passes, 255 does not', () => {
    const domain = `${label63}.${label63}.${label63}.org`;
    const at254 = `${'a'.repeat(254 - 1 - domain.length)}@${domain}`;
    assert.equal(at254.length, 254);
    assert.equal(isValidEmail(at254), true);
    assert.equal(isValidEmail(`a${at254}`), false);
  });
});
