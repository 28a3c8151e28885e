/**
 * The XML-RPC codec (src/rpc/xmlrpc.ts) on its own: every type, Python's xmlrpc.client on both sides
 * (golden requests it wrote, our responses read by it), round trips, and hostile or broken input, which must
 * always end in XmlRpcParseError (fault -32700), never in another exception or a value.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  decodeMethodCall,
  decodeMethodCallByTokenizer,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeResponse,
  formatIso8601Utc,
  MAX_DEPTH,
  parseIso8601Utc,
  XmlRpcParseError,
  type XmlRpcValue,
} from '../../src/rpc/xmlrpc.js';
import { runProcess } from '../support/process.js';

// Written by Python 3.11: xmlrpc.client.dumps(({'email': 'a@b.c', 'firstname': 'Jöhn'},), 'add_recipients')
const PY_ADD_RECIPIENTS =
  "<?xml version='1.0'?>\n<methodCall>\n<methodName>add_recipients</methodName>\n<params>\n<param>\n<value><struct>\n<member>\n<name>email</name>\n<value><string>a@b.c</string></value>\n</member>\n<member>\n<name>firstname</name>\n<value><string>Jöhn</string></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";
// xmlrpc.client.dumps((7, -2**31, 1.5, -0.25, 1e300, True, False, None, b'\x00\x01hi\xff',
//   datetime.datetime(2026,11,22,15,4,5), 'x<&>"\'\r\n\tz', '', {'nested': [1, {'deep': []}], 'empty': {}},
//   ['Zoë', '😀']), 'every_type', allow_none=True)
const PY_EVERY_TYPE =
  "<?xml version='1.0'?>\n<methodCall>\n<methodName>every_type</methodName>\n<params>\n<param>\n<value><int>7</int></value>\n</param>\n<param>\n<value><int>-2147483648</int></value>\n</param>\n<param>\n<value><double>1.5</double></value>\n</param>\n<param>\n<value><double>-0.25</double></value>\n</param>\n<param>\n<value><double>1e+300</double></value>\n</param>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n<param>\n<value><boolean>0</boolean></value>\n</param>\n<param>\n<value><nil/></value></param>\n<param>\n<value><base64>\nAAFoaf8=\n</base64></value>\n</param>\n<param>\n<value><dateTime.iso8601>20261122T15:04:05</dateTime.iso8601></value>\n</param>\n<param>\n<value><string>x&lt;&amp;&gt;\"'\r\n\tz</string></value>\n</param>\n<param>\n<value><string></string></value>\n</param>\n<param>\n<value><struct>\n<member>\n<name>nested</name>\n<value><array><data>\n<value><int>1</int></value>\n<value><struct>\n<member>\n<name>deep</name>\n<value><array><data>\n</data></array></value>\n</member>\n</struct></value>\n</data></array></value>\n</member>\n<member>\n<name>empty</name>\n<value><struct>\n</struct></value>\n</member>\n</struct></value>\n</param>\n<param>\n<value><array><data>\n<value><string>Zoë</string></value>\n<value><string>😀</string></value>\n</data></array></value>\n</param>\n</params>\n</methodCall>\n";
// xmlrpc.client.dumps(([{'email': 'a@b.c', 'id': 1, 'tracking_id': 't1'}],), methodresponse=True)
const PY_RESPONSE =
  "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>email</name>\n<value><string>a@b.c</string></value>\n</member>\n<member>\n<name>id</name>\n<value><int>1</int></value>\n</member>\n<member>\n<name>tracking_id</name>\n<value><string>t1</string></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";
// xmlrpc.client.dumps(xmlrpc.client.Fault(-32601, 'no such method'))
const PY_FAULT =
  "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>-32601</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>no such method</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
// xmlrpc.client.dumps(({'firstname': 'Jöhn'},), 'add_recipients', encoding='iso-8859-1'): ServerProxy then
// encodes the whole body in Latin-1.
const PY_LATIN1 =
  "<?xml version='1.0' encoding='iso-8859-1'?>\n<methodCall>\n<methodName>add_recipients</methodName>\n<params>\n<param>\n<value><struct>\n<member>\n<name>firstname</name>\n<value><string>Jöhn</string></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";

const decode = (xml: string | Buffer) => decodeMethodCall(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml);
/** A methodCall `m` carrying the given `<value>` XML as its only param. */
const callWith = (valueXml: string) => `<?xml version="1.0"?><methodCall><methodName>m</methodName><params><param>${valueXml}</param></params></methodCall>`;
const decodeValue = (valueXml: string): XmlRpcValue => {
  const { params } = decode(callWith(valueXml));
  assert.equal(params.length, 1);
  return params[0]!;
};

function assertRefused(xml: string | Buffer, message?: RegExp): void {
  assert.throws(
    () => decode(xml),
    (e: unknown) => {
      assert.ok(e instanceof XmlRpcParseError, `expected XmlRpcParseError, got ${String(e)}`);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}
const assertValueRefused = (valueXml: string, message?: RegExp) => assertRefused(callWith(valueXml), message);

const nest = (depth: number, open: string, close: string, inner: string) => open.repeat(depth) + inner + close.repeat(depth);

/** Python's xmlrpc.client.loads() on our output, as JSON (dates, bytes and floats tagged). */
function pythonLoads(xml: string): unknown {
  const script = `
import base64, json, sys, xmlrpc.client
def conv(v):
    if isinstance(v, xmlrpc.client.DateTime): return {'$date': v.value}
    if isinstance(v, xmlrpc.client.Binary): return {'$base64': base64.b64encode(v.data).decode()}
    if isinstance(v, float): return {'$double': repr(v)}
    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list): return [conv(x) for x in v]
    return v
try:
    params, method = xmlrpc.client.loads(sys.stdin.buffer.read())
    print(json.dumps({'method': method, 'params': conv(list(params))}))
except xmlrpc.client.Fault as f:
    print(json.dumps({'fault': [f.faultCode, f.faultString]}))
`;
  const r = spawnSync('python3', ['-c', script], { input: Buffer.from(xml, 'utf8'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('xmlrpc codec: decoding every type', () => {
  it('reads integers strictly: i4, int, i8, ex:i8, with surrounding whitespace and a sign', () => {
    assert.equal(decodeValue('<value><i4>42</i4></value>'), 42);
    assert.equal(decodeValue('<value><int> -17 </int></value>'), -17);
    assert.equal(decodeValue('<value><int>+5</int></value>'), 5);
    assert.equal(decodeValue('<value><i8>9007199254740991</i8></value>'), Number.MAX_SAFE_INTEGER);
    assert.equal(decodeValue('<value><i8>-9007199254740991</i8></value>'), -Number.MAX_SAFE_INTEGER);
    assert.equal(decodeValue('<value><ex:i8>1234567890123</ex:i8></value>'), 1234567890123);
  });
  it('refuses malformed integers and integers beyond 2^53 with a clear message', () => {
    assertValueRefused('<value><int>12abc</int></value>', /not an integer: "12abc"/);
    for (const bad of ['', '1.0', '1e3', '0x10', '--1', '1 2', '١٢']) assertValueRefused(`<value><int>${bad}</int></value>`, /not an integer/);
    assertValueRefused('<value><i8>9007199254740992</i8></value>', /beyond 2\^53/);
    assertValueRefused('<value><i8>-99999999999999999999</i8></value>', /beyond 2\^53/);
    assertValueRefused('<value><int/></value>', /not an integer/);
  });
  it('reads booleans as 0 or 1 only', () => {
    assert.equal(decodeValue('<value><boolean>1</boolean></value>'), true);
    assert.equal(decodeValue('<value><boolean>0</boolean></value>'), false);
    for (const bad of ['true', 'false', '2', '', 'yes']) assertValueRefused(`<value><boolean>${bad}</boolean></value>`, /not a boolean/);
  });
  it('keeps whitespace inside a string exactly, \\r included', () => {
    assert.equal(decodeValue('<value><string>  a\r\n\tb  </string></value>'), '  a\r\n\tb  ');
    assert.equal(decodeValue('<value><string>Jöhn Zoë 山田 😀</string></value>'), 'Jöhn Zoë 山田 😀');
    assert.equal(decodeValue('<value><string>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</string></value>'), 'a & b <c> "d" \'e\'');
    assert.equal(decodeValue('<value><string>&#x41;&#66;&#x1F600;&#13;</string></value>'), 'AB😀\r');
    assert.equal(decodeValue('<value><string><![CDATA[<b>&amp;</b>]]></string></value>'), '<b>&amp;</b>');
    assert.equal(decodeValue('<value><string>a<!-- note -->b</string></value>'), 'ab');
  });
  it("reads '' for <string/>, <string></string>, <value/> and <value></value>", () => {
    assert.equal(decodeValue('<value><string/></value>'), '');
    assert.equal(decodeValue('<value><string></string></value>'), '');
    assert.equal(decodeValue('<value/>'), '');
    assert.equal(decodeValue('<value></value>'), '');
  });
  it('reads an untyped <value>text</value> as a string, whitespace kept', () => {
    assert.equal(decodeValue('<value>a@example.org</value>'), 'a@example.org');
    assert.equal(decodeValue('<value> 12 </value>'), ' 12 ');
    assert.equal(decodeValue('<value>Smith &amp; Sons</value>'), 'Smith & Sons');
  });
  it('ignores whitespace around a typed value but refuses other text beside it', () => {
    assert.equal(decodeValue('<value>\n  <int>3</int>\n</value>'), 3);
    assertValueRefused('<value>x<int>3</int></value>', /text and a typed element/);
    assertValueRefused('<value><int>3</int>x</value>', /text not allowed/);
    assertValueRefused('<value><int>3</int><int>4</int></value>', /not allowed/);
  });
  it('reads doubles strictly', () => {
    assert.equal(decodeValue('<value><double>1.5</double></value>'), 1.5);
    assert.equal(decodeValue('<value><double>-0.25</double></value>'), -0.25);
    assert.equal(decodeValue('<value><double>1e+300</double></value>'), 1e300);
    assert.equal(decodeValue('<value><double>.5</double></value>'), 0.5);
    assert.equal(decodeValue('<value><double> 7 </double></value>'), 7);
    for (const bad of ['', '1.2.3', 'abc', 'NaN', 'inf', '1e', '0x1p3', '1,5']) assertValueRefused(`<value><double>${bad}</double></value>`, /not a double/);
  });
  it('reads dateTime.iso8601 as UTC in every layout clients send', () => {
    const at = (text: string) => (decodeValue(`<value><dateTime.iso8601>${text}</dateTime.iso8601></value>`) as Date).toISOString();
    assert.equal(at('20261122T15:04:05'), '2026-11-22T15:04:05.000Z');
    assert.equal(at('2026-11-22T15:04:05'), '2026-11-22T15:04:05.000Z');
    assert.equal(at('20261122T150405'), '2026-11-22T15:04:05.000Z');
    assert.equal(at('2026-11-22T15:04:05.250Z'), '2026-11-22T15:04:05.250Z');
    assert.equal(at('2026-11-22T17:04:05+02:00'), '2026-11-22T15:04:05.000Z');
    assert.equal(at('20261122T100405-0500'), '2026-11-22T15:04:05.000Z');
    assert.equal(at('20261122T18:04:05+03'), '2026-11-22T15:04:05.000Z');
    for (const bad of ['yesterday', '20261322T15:04:05', '20260230T15:04:05', '20261122T24:00:00', '2026-11-22']) {
      assertValueRefused(`<value><dateTime.iso8601>${bad}</dateTime.iso8601></value>`, /dateTime|date/);
    }
  });
  it('reads base64 into a Buffer, line breaks allowed', () => {
    assert.deepEqual(decodeValue('<value><base64>\nAAFo\naf8=\n</base64></value>'), Buffer.from([0, 1, 0x68, 0x69, 0xff]));
    assert.deepEqual(decodeValue('<value><base64></base64></value>'), Buffer.alloc(0));
    assertValueRefused('<value><base64>a!b=</base64></value>', /not base64/);
    assertValueRefused('<value><base64>ab=c</base64></value>', /not base64/);
  });
  it('reads <nil/> and the Apache <ex:nil/> as null, and nothing inside them', () => {
    assert.equal(decodeValue('<value><nil/></value>'), null);
    assert.equal(decodeValue('<value><ex:nil/></value>'), null);
    assert.equal(decodeValue('<value><nil></nil></value>'), null);
    assertValueRefused('<value><nil>0</nil></value>', /nil/);
  });
  it('reads structs and arrays, nested and empty', () => {
    const v = decodeValue(
      '<value><struct><member><name>a</name><value><array><data><value><int>1</int></value><value>two</value>' +
        '<value><struct></struct></value><value><array><data></data></array></value></data></array></value></member>' +
        '<member><name></name><value><boolean>1</boolean></value></member></struct></value>',
    );
    assert.deepEqual(v, { a: [1, 'two', {}, []], '': true });
  });
  it('refuses an array without <data> and members without exactly one name then one value', () => {
    assertValueRefused('<value><array><value>1</value></array></value>', /not allowed/);
    assertValueRefused('<value><array/></value>', /incomplete <array>/);
    assertValueRefused('<value><struct><member><value>1</value></member></struct></value>', /not allowed/);
    assertValueRefused('<value><struct><member><name>a</name></member></struct></value>', /incomplete <member>/);
    assertValueRefused('<value><struct><member><value>1</value><name>a</name></member></struct></value>', /not allowed/);
    assertValueRefused('<value><struct><member><name>a</name><name>b</name><value>1</value></member></struct></value>', /not allowed/);
    assertValueRefused('<value><struct><member><name>a</name><value>1</value><value>2</value></member></struct></value>', /not allowed/);
  });
  it('keeps a member named __proto__ (or constructor, toString) as plain data', () => {
    const v = decodeValue(
      '<value><struct><member><name>__proto__</name><value><struct><member><name>polluted</name><value>yes</value></member></struct></value></member>' +
        '<member><name>constructor</name><value>c</value></member><member><name>toString</name><value>t</value></member></struct></value>',
    ) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__', 'constructor', 'toString']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, { polluted: 'yes' });
    assert.equal(v.constructor, 'c');
    assert.equal(Object.getOwnPropertyDescriptor(v, 'toString')?.value, 't');
    assert.equal((v as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });
  it('keeps the last of two members with the same name', () => {
    assert.deepEqual(
      decodeValue('<value><struct><member><name>a</name><value>1</value></member><member><name>a</name><value>2</value></member></struct></value>'),
      { a: '2' },
    );
  });
});

describe('xmlrpc codec: methodCall structure', () => {
  it("decodes Python's add_recipients request (golden)", () => {
    const call = decode(PY_ADD_RECIPIENTS);
    assert.equal(call.methodName, 'add_recipients');
    assert.deepEqual(call.params, [{ email: 'a@b.c', firstname: 'Jöhn' }]);
  });
  it("decodes Python's request with every type (golden)", () => {
    const call = decode(PY_EVERY_TYPE);
    assert.equal(call.methodName, 'every_type');
    assert.deepEqual(call.params, [
      7,
      -2147483648,
      1.5,
      -0.25,
      1e300,
      true,
      false,
      null,
      Buffer.from([0, 1, 0x68, 0x69, 0xff]),
      new Date('2026-11-22T15:04:05Z'),
      'x<&>"\'\r\n\tz',
      '',
      { nested: [1, { deep: [] }], empty: {} },
      ['Zoë', '😀'],
    ]);
  });
  it('honours a declared ISO-8859-1 encoding (what ServerProxy sends with encoding=)', () => {
    const call = decode(Buffer.from(PY_LATIN1, 'latin1'));
    assert.deepEqual(call.params, [{ firstname: 'Jöhn' }]);
    for (const name of ['ISO-8859-1', 'latin1', 'Latin-1']) {
      assert.deepEqual(decode(Buffer.from(PY_LATIN1.replace('iso-8859-1', name), 'latin1')).params, [{ firstname: 'Jöhn' }]);
    }
  });
  it('reads a UTF-8 body with a BOM, and refuses invalid UTF-8 however it is declared', () => {
    assert.deepEqual(decode(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(PY_ADD_RECIPIENTS)])).params, [{ email: 'a@b.c', firstname: 'Jöhn' }]);
    assertRefused(Buffer.from(PY_ADD_RECIPIENTS, 'latin1'), /not valid UTF-8/);
    assertRefused(Buffer.from(PY_LATIN1.replace('iso-8859-1', 'utf-8'), 'latin1'), /not valid UTF-8/);
    assertRefused(Buffer.from(PY_LATIN1.replace('iso-8859-1', 'windows-1252'), 'latin1'), /not valid UTF-8/);
    const bodyWith = (bytes: number[]) =>
      Buffer.concat([Buffer.from(callWith('<value>')), Buffer.from(bytes), Buffer.from('</value></param></params></methodCall>')]);
    assertRefused(bodyWith([0xff]), /not valid UTF-8/);
    assertRefused(bodyWith([0xc0, 0xaf]), /not valid UTF-8/); // overlong '/'
    assertRefused(bodyWith([0xed, 0xa0, 0x80]), /not valid UTF-8/); // an encoded surrogate
  });
  it('takes a methodCall without <params>, or with empty ones, as no params', () => {
    assert.deepEqual(decode('<methodCall><methodName>system.listMethods</methodName></methodCall>'), { methodName: 'system.listMethods', params: [] });
    assert.deepEqual(decode('<methodCall><methodName>x</methodName><params/></methodCall>').params, []);
    assert.deepEqual(decode('<methodCall><methodName>x</methodName><params>\n</params></methodCall>').params, []);
  });
  it('reads several params in order', () => {
    assert.deepEqual(decode(encodeMethodCall('m', [1, 'two', [3]])).params, [1, 'two', [3]]);
  });
  it('checks the methodName', () => {
    for (const name of ['system.multicall', 'a_b-c:d/e', 'x'.repeat(100)]) assert.equal(decode(encodeMethodCall(name, [])).methodName, name);
    for (const name of ['', 'add recipients', 'x'.repeat(101), 'é', 'a\nb']) assertRefused(encodeMethodCall(name, []), /methodName/);
    assertRefused('<methodCall><params/></methodCall>', /not allowed/);
    assertRefused('<methodCall><params/><methodName>x</methodName></methodCall>', /not allowed/);
    assertRefused('<methodCall><methodName>x</methodName><methodName>y</methodName></methodCall>', /not allowed/);
  });
  it('takes attributes (namespace declarations) and comments, and ignores them', () => {
    const xml =
      '<?xml version="1.0"?><!-- hi --><methodCall xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><methodName>m</methodName><params><param><value><ex:nil/></value></param></params></methodCall><!-- bye -->\n';
    assert.deepEqual(decode(xml).params, [null]);
  });
  it('refuses a methodResponse, and decodeMethodResponse refuses a methodCall', () => {
    assertRefused(PY_RESPONSE, /not a methodCall/);
    assert.throws(() => decodeMethodResponse(PY_ADD_RECIPIENTS), XmlRpcParseError);
  });
});

describe('xmlrpc codec: decodeMethodResponse', () => {
  it("reads Python's response and fault (golden)", () => {
    assert.deepEqual(decodeMethodResponse(PY_RESPONSE), { value: [{ email: 'a@b.c', id: 1, tracking_id: 't1' }] });
    assert.deepEqual(decodeMethodResponse(Buffer.from(PY_FAULT)), { fault: { faultCode: -32601, faultString: 'no such method' } });
  });
  it('refuses a response with no or two params, and a fault without its members', () => {
    assert.throws(() => decodeMethodResponse('<methodResponse><params></params></methodResponse>'), /exactly one <param>/);
    assert.throws(
      () => decodeMethodResponse('<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>'),
      /exactly one <param>/,
    );
    assert.throws(
      () =>
        decodeMethodResponse(
          '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>',
        ),
      /faultString/,
    );
    assert.throws(() => decodeMethodResponse('<methodResponse><fault><value>boom</value></fault></methodResponse>'), XmlRpcParseError);
    assert.throws(
      () => decodeMethodResponse('<methodResponse><params><param><value>1</value></param></params><fault><value/></fault></methodResponse>'),
      XmlRpcParseError,
    );
  });
  it('refuses a lone surrogate in text handed over as a string', () => {
    assert.throws(() => decodeMethodResponse(encodeResponse('ok').replace('ok', 'a\uD800b')), XmlRpcParseError);
  });
});

describe('xmlrpc codec: encoding', () => {
  it('writes the compact layout Python reads, starting with <?xml version="1.0"?>', () => {
    assert.equal(encodeResponse(42), '<?xml version="1.0"?><methodResponse><params><param><value><int>42</int></value></param></params></methodResponse>');
    assert.equal(
      encodeFault(-32700, 'parse error'),
      '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32700</int></value></member>' +
        '<member><name>faultString</name><value><string>parse error</string></value></member></struct></value></fault></methodResponse>',
    );
    assert.equal(
      encodeMethodCall('m', ['a', true]),
      '<?xml version="1.0"?><methodCall><methodName>m</methodName><params><param><value><string>a</string></value></param><param><value><boolean>1</boolean></value></param></params></methodCall>',
    );
  });
  it('escapes markup, writes \\r as &#13; and replaces characters XML cannot carry by U+FFFD', () => {
    assert.match(encodeResponse('a<b>&c\r\nd'), /<string>a&lt;b&gt;&amp;c&#13;\nd<\/string>/);
    assert.match(encodeResponse('x\u0000\u0001\u000b\uFFFEy\uD800z\uDC00'), /<string>x\uFFFD\uFFFD\uFFFD\uFFFDy\uFFFDz\uFFFD<\/string>/);
    assert.match(encodeResponse('😀 Zoë'), /<string>😀 Zoë<\/string>/);
    assert.match(encodeResponse({ 'a<b\u0001': 1 }), /<name>a&lt;b\uFFFD<\/name>/);
  });
  it('writes safe integers as <int>, other numbers as <double>, NaN and Infinity as strings', () => {
    assert.match(encodeResponse(-7), /<int>-7<\/int>/);
    assert.match(encodeResponse(Number.MAX_SAFE_INTEGER), /<int>9007199254740991<\/int>/);
    assert.match(encodeResponse(2 ** 53), /<double>9007199254740992<\/double>/);
    assert.match(encodeResponse(1.5), /<double>1.5<\/double>/);
    assert.match(encodeResponse(NaN), /<string>NaN<\/string>/);
    assert.match(encodeResponse(-Infinity), /<string>-Infinity<\/string>/);
    assert.match(encodeResponse(12345678901234567890n), /<string>12345678901234567890<\/string>/);
  });
  it('writes booleans, dates in UTC, Buffers as base64', () => {
    assert.match(encodeResponse([true, false]), /<boolean>1<\/boolean><\/value><value><boolean>0<\/boolean>/);
    assert.match(encodeResponse(new Date('2026-11-22T17:04:05+02:00')), /<dateTime.iso8601>20261122T15:04:05<\/dateTime.iso8601>/);
    assert.match(encodeResponse(new Date(NaN)), /<value><string><\/string><\/value>/);
    assert.match(encodeResponse(Buffer.from([0, 1, 0xff])), /<base64>AAH\/<\/base64>/);
  });
  it('never writes <nil/>: null struct members are left out, null array items are empty strings', () => {
    const xml = encodeResponse({ a: null, b: undefined, c: [null, undefined, 1], d: 'x' });
    assert.doesNotMatch(xml, /nil/);
    assert.deepEqual(decodeMethodResponse(xml), { value: { c: ['', '', 1], d: 'x' } });
    assert.doesNotMatch(encodeResponse(null), /nil/);
    assert.deepEqual(decodeMethodResponse(encodeResponse(null)), { value: '' });
  });
  it('writes own enumerable keys only, a __proto__ key included', () => {
    const proto = { inherited: 1 };
    const v = Object.create(proto) as Record<string, unknown>;
    v.own = 2;
    Object.defineProperty(v, 'hidden', { value: 3, enumerable: false });
    Object.defineProperty(v, '__proto__', { value: 'data', enumerable: true });
    assert.match(
      encodeResponse(v),
      /<struct><member><name>own<\/name><value><int>2<\/int><\/value><\/member><member><name>__proto__<\/name><value><string>data<\/string><\/value><\/member><\/struct>/,
    );
  });
  it(`accepts values nested up to MAX_DEPTH + 8 and throws beyond, or on a cycle`, () => {
    const nested = (n: number): unknown => (n === 0 ? 'leaf' : [nested(n - 1)]);
    assert.match(encodeResponse(nested(MAX_DEPTH + 8)), /leaf/);
    assert.throws(() => encodeResponse(nested(MAX_DEPTH + 10)), /nested too deep/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => encodeResponse(cycle), /nested too deep/);
  });
});

describe('xmlrpc codec: round trips', () => {
  const RICH = {
    email: 'a@b.c',
    names: ['Jöhn', 'Zoë', '山田', '😀', ''],
    text: '  <p>Hello &amp; "you"</p>\r\n\ttabs  ',
    id: 123456789,
    negative: -1,
    ratio: 0.125,
    on: true,
    off: false,
    at: new Date('2030-01-02T03:04:05Z'),
    blob: Buffer.from('hello\u0000world'),
    nested: { deeper: { deepest: [[], {}] } },
  };
  it('encodeMethodCall -> decodeMethodCall gives the same values back', () => {
    const params = [RICH, 7, 'x', [1, [2, [3]]], 1e-7, -0.5];
    const call = decode(encodeMethodCall('add_recipients', params));
    assert.equal(call.methodName, 'add_recipients');
    assert.deepEqual(call.params, params);
  });
  it('encodeResponse -> decodeMethodResponse gives the same values back', () => {
    assert.deepEqual(decodeMethodResponse(encodeResponse(RICH)), { value: RICH });
    assert.deepEqual(decodeMethodResponse(encodeResponse([])), { value: [] });
    assert.deepEqual(decodeMethodResponse(encodeResponse('')), { value: '' });
  });
  it('encodeFault -> decodeMethodResponse gives the fault back', () => {
    assert.deepEqual(decodeMethodResponse(encodeFault(-32602, 'parameter 1 must be <int> & not "x"')), {
      fault: { faultCode: -32602, faultString: 'parameter 1 must be <int> & not "x"' },
    });
  });
  it("our response is what Python's xmlrpc.client.loads reads", () => {
    const got = pythonLoads(encodeResponse({ ...RICH, missing: null, list: [null, 2 ** 53, NaN] }));
    assert.deepEqual(got, {
      method: null,
      params: [
        {
          email: 'a@b.c',
          names: ['Jöhn', 'Zoë', '山田', '😀', ''],
          text: '  <p>Hello &amp; "you"</p>\r\n\ttabs  ',
          id: 123456789,
          negative: -1,
          ratio: { $double: '0.125' },
          on: true,
          off: false,
          at: { $date: '20300102T03:04:05' },
          blob: { $base64: Buffer.from('hello\u0000world').toString('base64') },
          nested: { deeper: { deepest: [[], {}] } },
          list: ['', { $double: '9007199254740992.0' }, 'NaN'],
        },
      ],
    });
  });
  it("our fault and our methodCall are what Python's xmlrpc.client.loads reads", () => {
    assert.deepEqual(pythonLoads(encodeFault(-32601, 'no such method: <x>')), { fault: [-32601, 'no such method: <x>'] });
    assert.deepEqual(pythonLoads(encodeMethodCall('add_recipients', [1, { email: 'a@b.c', firstname: 'Jöhn\r' }])), {
      method: 'add_recipients',
      params: [1, { email: 'a@b.c', firstname: 'Jöhn\r' }],
    });
  });
});

describe('xmlrpc codec: hostile and broken input', () => {
  it('refuses billion laughs before expanding anything', () => {
    const lol = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<methodCall><methodName>m</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>`;
    assertRefused(lol, /DOCTYPE/);
  });
  it('refuses an external entity (XXE): nothing is fetched or read', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>m</methodName><params><param><value>&e;</value></param></params></methodCall>`;
    assertRefused(xxe, /DOCTYPE/);
    assert.throws(() => decodeMethodResponse(xxe.replace(/methodCall/g, 'methodResponse').replace('<methodName>m</methodName>', '')), /DOCTYPE/);
  });
  it('refuses every kind of declaration, in any case, anywhere', () => {
    assertRefused(`<!doctype methodCall>${PY_ADD_RECIPIENTS.replace(/^<\?xml[^>]*>/, '')}`, /DOCTYPE/);
    for (const decl of ['<!ENTITY e "x">', '<!ELEMENT a ANY>', '<!ATTLIST a b CDATA #IMPLIED>', '<!NOTATION n SYSTEM "x">', '<! DOCTYPE x>']) {
      assertRefused(PY_ADD_RECIPIENTS.replace('<methodCall>', `<methodCall>${decl}`), /DOCTYPE/);
    }
    assertRefused(PY_ADD_RECIPIENTS.replace('<methodCall>', '<methodCall><!foo>'), /declarations/);
    assertRefused(PY_ADD_RECIPIENTS.replace('a@b.c', '<![CDATA[x]]><!DOCTYPE x>'), /DOCTYPE/);
    assertRefused(PY_ADD_RECIPIENTS.replace('a@b.c', '<![CDATA[<![CDATA[x]]><!ENTITY e "x">'), /DOCTYPE/);
  });
  it('takes a DOCTYPE inside CDATA as text: mailing HTML, as the npm xmlrpc client sends it', () => {
    const html = '<!DOCTYPE html><html><body>Hi &amp; bye<!ENTITY x "y"></body></html>';
    assert.equal(decodeValue(`<value><string><![CDATA[${html}]]></string></value>`), html);
    assert.equal(decodeValue(`<value><![CDATA[${html}]]><![CDATA[${html}]]></value>`), html + html);
    assertValueRefused(`<value><string><![CDATA[${html}]]><!DOCTYPE x></string></value>`, /DOCTYPE/);
  });
  it('resolves only the five XML entities: any other name is an error, prototype names included', () => {
    for (const name of ['nbsp', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'e', 'AMP', 'lt;&x']) {
      assertValueRefused(`<value><string>&${name};</string></value>`, /entity|bare/);
    }
    assertValueRefused('<value>a & b</value>', /bare "&"/);
    assertValueRefused('<value>&amp</value>', /bare "&"/);
  });
  it('refuses characters XML 1.0 forbids, written raw or as references', () => {
    for (const ref of ['&#1;', '&#x1;', '&#0;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#99999999;']) {
      assertValueRefused(`<value><string>a${ref}b</string></value>`, /not allowed in XML/);
    }
    for (const raw of ['\u0001', '\u0000', '\u000b', '\u001f', '\uFFFF']) assertValueRefused(`<value><string>a${raw}b</string></value>`, /not allowed in XML/);
    assert.equal(decodeValue('<value>&#9;&#10;&#xD7FF;&#xE000;&#xFFFD;&#x10FFFF;</value>'), '\t\n\uD7FF\uE000\uFFFD\u{10FFFF}');
  });
  it(`refuses values nested deeper than MAX_DEPTH (${MAX_DEPTH}), arrays and structs alike`, () => {
    const arrays = (n: number) => nest(n, '<value><array><data>', '</data></array></value>', '<value>x</value>');
    const structs = (n: number) => nest(n, '<value><struct><member><name>k</name>', '</member></struct></value>', '<value>x</value>');
    let v = decodeValue(arrays(MAX_DEPTH));
    for (let i = 0; i < MAX_DEPTH; i++) v = (v as XmlRpcValue[])[0]!;
    assert.equal(v, 'x');
    assert.ok(decodeValue(structs(MAX_DEPTH)));
    assertValueRefused(arrays(MAX_DEPTH + 1), /nested deeper than 64/);
    assertValueRefused(structs(MAX_DEPTH + 1), /nested deeper than 64/);
    assertValueRefused(arrays(100), /nested deeper/);
    assertValueRefused(
      nest(50, '<value><array><data><value><struct><member><name>k</name>', '</member></struct></value></data></array></value>', '<value/>'),
      /nested deeper/,
    );
  });
  it('accepts the XML-RPC tag names in their exact case only', () => {
    for (const [good, bad] of [
      ['string', 'STRING'],
      ['int', 'Int'],
      ['boolean', 'Boolean'],
      ['dateTime.iso8601', 'datetime.iso8601'],
      ['base64', 'Base64'],
    ] as const) {
      const content = good === 'dateTime.iso8601' ? '20260101T00:00:00' : '1';
      assert.ok(decodeValue(`<value><${good}>${content}</${good}></value>`) !== undefined);
      assertValueRefused(`<value><${bad}>${content}</${bad}></value>`, new RegExp(`unknown XML-RPC tag <${bad}>`));
    }
    assertValueRefused('<Value>1</Value>', /unknown XML-RPC tag <Value>/);
    assertValueRefused('<value><Struct></Struct></value>', /unknown XML-RPC tag <Struct>/);
    assertRefused(PY_ADD_RECIPIENTS.replace(/methodCall/g, 'methodcall'), /unknown XML-RPC tag <methodcall>/);
    assertRefused(PY_ADD_RECIPIENTS.replace(/methodName/g, 'MethodName'), /unknown XML-RPC tag/);
  });
  it('refuses unknown tags, and known ones out of place', () => {
    assertValueRefused('<value><foo>1</foo></value>', /unknown XML-RPC tag <foo>/);
    assertValueRefused('<value><ex:foo/></value>', /unknown XML-RPC tag/);
    assertValueRefused('<value><string><b>bold</b></string></value>', /unknown XML-RPC tag <b>/);
    assertValueRefused('<value><string><value>x</value></string></value>', /not allowed/);
    assertValueRefused('<value><member><name>a</name><value/></member></value>', /not allowed/);
    assertRefused('<methodCall><methodName>m</methodName><param><value/></param></methodCall>', /not allowed/);
    assertRefused('<methodCall><methodName>m</methodName><params><value/></params></methodCall>', /not allowed/);
    assertRefused('<methodCall><methodName>m</methodName><params><param><fault/></param></params></methodCall>', /not allowed/);
  });
  it('refuses every truncation of a valid call', () => {
    const body = PY_EVERY_TYPE.trimEnd();
    for (let cut = 0; cut < body.length; cut++) {
      assert.throws(() => decode(body.slice(0, cut)), XmlRpcParseError, `accepted a body cut at ${cut}: ...${JSON.stringify(body.slice(cut - 30, cut))}`);
    }
    assert.ok(decode(body));
    // A tag cut off after a complete root: the tokenizer drops it without a word.
    for (const tail of ['<methodCall', '</methodCall', '<value a="1"', '<!--', '<![CDATA[x', '<?pi']) {
      assert.throws(() => decode(body + tail), XmlRpcParseError, tail);
    }
  });
  it('refuses two root elements and text outside the root', () => {
    assertRefused(PY_ADD_RECIPIENTS + PY_ADD_RECIPIENTS.replace(/^<\?xml[^>]*>/, ''), /two root elements/);
    assertRefused(`${PY_ADD_RECIPIENTS}<methodCall/>`, /two root elements/);
    assertRefused(`${PY_ADD_RECIPIENTS}trailing`, /outside the root/);
    assertRefused(`leading${PY_ADD_RECIPIENTS}`, /outside the root/);
    assertRefused(PY_ADD_RECIPIENTS.replace('<params>', 'text<params>'), /text not allowed in <methodCall>/);
    assertRefused(PY_ADD_RECIPIENTS.replace('<member>', '<member>x'), /text not allowed in <member>/);
    assertRefused('', /incomplete/);
    assertRefused('   \n', /incomplete/);
    assertRefused('garbage', /outside the root/);
  });
  it('refuses markup XML does not allow, though an HTML tokenizer would', () => {
    const edit = (from: string, to: string) => PY_ADD_RECIPIENTS.replace(from, to);
    assertRefused(edit('</string>', '</int>'), /does not close <string>/);
    assertRefused(edit('</string>', '</string junk>'), /malformed <\/string>/);
    assertRefused(edit('</string>', '</ string>'), /malformed <\/string>/);
    assert.ok(decode(edit('</string>', '</string >')));
    assertRefused(edit('a@b.c', 'a < b'), /"<"/);
    assertRefused(edit('a@b.c', 'a<>b'), /"<"/);
    assertRefused(edit('<methodCall>', '<methodCall a=b>'), /quoted/);
    assertRefused(edit('<methodCall>', '<methodCall a>'), /quoted/);
    assertRefused(edit('<methodCall>', '<methodCall a="<">'), /"<" in an attribute/);
    assertRefused(edit('<methodCall>', '<methodCall "a"="b">'), /attribute name/);
    assertRefused(edit('<methodCall>', '<methodCall><!-- a -- b -->'), /comment/);
    assertRefused(edit('<methodCall>', '<methodCall><!-->'), /comment/);
    assertRefused(edit('<methodCall>', '<methodCall><//x>'), /comment/);
    assertRefused(edit('a@b.c', '<![CDATA[a@b.c'), /CDATA/);
    assertRefused(edit('<methodCall>', '<methodCall><?xml version="1.0"?>'), /XML declaration must come first/);
    assertRefused(edit('<methodCall>', '<methodCall><?pi unterminated>'), /processing instruction/);
  });
  // In a process of their own, at a million characters: a check that backtracks (quadratic or worse) would run
  // for hours there, a linear one runs for milliseconds. No clock is read; a hang is ended and reported.
  it('keeps strict number checks linear in time (no regex backtracking on long input)', async () => {
    const script = `
      const { decodeMethodCall, XmlRpcParseError } = await import(process.argv[1]);
      const n = 1_000_000;
      const values = [
        '<double>' + '1'.repeat(n) + 'x</double>',
        '<base64>' + ' '.repeat(n) + '!</base64>',
        '<int>' + '1'.repeat(n) + '</int>',
        '<dateTime.iso8601>20260101T00:00:00.' + '1'.repeat(n) + 'x</dateTime.iso8601>',
      ];
      const out = values.map((v) => {
        const xml = '<?xml version="1.0"?><methodCall><methodName>m</methodName><params><param><value>' + v + '</value></param></params></methodCall>';
        try {
          decodeMethodCall(Buffer.from(xml));
          return 'decoded';
        } catch (e) {
          return (e instanceof XmlRpcParseError ? 'XmlRpcParseError: ' : 'other: ') + String(e.message).slice(0, 200);
        }
      });
      console.log(JSON.stringify(out));
    `;
    const codec = path.resolve(import.meta.dirname, '../../src/rpc/xmlrpc.ts');
    const r = await runProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, codec], { timeoutMs: 60_000 });
    assert.equal(r.signal, null, 'still checking a minute later: the checks backtrack');
    assert.equal(r.code, 0, r.stderr);
    const [double, base64, int, dateTime] = JSON.parse(r.stdout) as string[];
    assert.match(double!, /^XmlRpcParseError: .*not a double/);
    assert.match(base64!, /^XmlRpcParseError: .*not base64/);
    assert.match(int!, /^XmlRpcParseError: .*not an integer/);
    assert.match(dateTime!, /^XmlRpcParseError: .*dateTime/);
  });
  it('answers any mangled body with a value or XmlRpcParseError, never another exception', () => {
    // A fixed pseudo-random sequence: the same 3,000 mutations on every run.
    let seed = 12345;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = [
      '<',
      '>',
      '/',
      '&',
      ';',
      '#',
      '"',
      "'",
      '=',
      '!',
      '?',
      '[',
      ']',
      '-',
      'x',
      ' ',
      '\n',
      '&amp;',
      '<value>',
      '</value>',
      '<![CDATA[',
      '-->',
      '&#1;',
      'é',
      '\uD800',
    ];
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      let body = PY_EVERY_TYPE;
      for (let edits = 1 + next(3); edits > 0; edits--) {
        const at = next(body.length);
        const kind = next(3);
        if (kind === 0) body = body.slice(0, at) + body.slice(at + 1 + next(8));
        else if (kind === 1) body = body.slice(0, at) + pieces[next(pieces.length)]! + body.slice(at);
        else body = body.slice(0, at) + body.slice(next(body.length), next(body.length)) + body.slice(at);
      }
      try {
        decode(body);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof XmlRpcParseError, `${String(e)} for ${JSON.stringify(body)}`);
      }
    }
    assert.ok(accepted > 0 && accepted < 3000, `accepted ${accepted}`);
  });
  it('reads every body, mangled or not, as the Tokenizer alone does: the same value or the same refusal', () => {
    // The plain reader (tags without attributes, text, processing instructions) hands over to the Tokenizer at
    // anything else; it must never accept what the Tokenizer refuses nor read a value differently.
    let seed = 4242;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const pieces = [
      '<',
      '>',
      '/',
      '/>',
      '</',
      '<?',
      '?>',
      '<!',
      '<a',
      ' ',
      '\t',
      '\f',
      '\r',
      '\n',
      '&amp;',
      '&lt',
      '<value/>',
      '<value >',
      '</value >',
      '<nil/>',
      '<value a="1">',
      '<?x?>',
      'é',
      '<![CDATA[x]]>',
    ];
    const seeds = [
      PY_EVERY_TYPE,
      PY_ADD_RECIPIENTS,
      encodeMethodCall('add_recipients', [7, [{ email: 'a@b.c', n: 1, ok: true, d: new Date(0), bin: Buffer.from('hi'), none: [], x: 'a&<>\r' }]]),
    ];
    const outcome = (decode: (b: Buffer) => unknown, body: string) => {
      try {
        return { value: decode(Buffer.from(body)) };
      } catch (e) {
        return { error: e instanceof XmlRpcParseError ? e.message : `other: ${String(e)}` };
      }
    };
    let accepted = 0;
    for (let i = 0; i < 6000; i++) {
      let body = seeds[i % seeds.length]!;
      for (let edits = next(4); edits > 0; edits--) {
        const at = next(body.length);
        const kind = next(3);
        if (kind === 0) body = body.slice(0, at) + body.slice(at + 1 + next(8));
        else if (kind === 1) body = body.slice(0, at) + pieces[next(pieces.length)]! + body.slice(at);
        else body = body.slice(0, at) + body.slice(next(body.length), next(body.length)) + body.slice(at);
      }
      const plain = outcome(decodeMethodCall, body);
      assert.deepEqual(plain, outcome(decodeMethodCallByTokenizer, body), JSON.stringify(body));
      if ('value' in plain) accepted++;
    }
    assert.ok(accepted > 1000 && accepted < 6000, `accepted ${accepted}`);
  });
});

describe('xmlrpc codec: dates', () => {
  it('parseIso8601Utc reads zone-less values as UTC and refuses impossible dates', () => {
    assert.equal(parseIso8601Utc('20261122T15:04:05').toISOString(), '2026-11-22T15:04:05.000Z');
    assert.equal(parseIso8601Utc(' 2026-11-22T15:04:05,5 ').toISOString(), '2026-11-22T15:04:05.500Z');
    assert.equal(parseIso8601Utc('2026-11-22T15:04:05-00:30').toISOString(), '2026-11-22T15:34:05.000Z');
    assert.equal(parseIso8601Utc('20240229T00:00:00').toISOString(), '2024-02-29T00:00:00.000Z');
    for (const bad of ['20230229T00:00:00', '20261122T15:60:00', '20261122T15:04:60', '20261122 15:04:05', '2026112T15:04:05', '']) {
      assert.throws(() => parseIso8601Utc(bad), XmlRpcParseError, bad);
    }
  });
  it('formatIso8601Utc writes YYYYMMDDTHH:MM:SS in UTC', () => {
    assert.equal(formatIso8601Utc(new Date('2026-01-02T03:04:05.999+01:00')), '20260102T02:04:05');
    assert.equal(formatIso8601Utc(new Date('0099-12-31T23:59:59Z')), '00991231T23:59:59');
  });
});
