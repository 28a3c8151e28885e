/**
 * The conformance matrix: the same six scenarios on every dialect, and each dialect's expected answer to each,
 * whole (status, the headers that carry meaning, the exact body bytes; for XML-RPC also what Python's
 * xmlrpc.client hands its caller). matrix.test.ts runs every cell against a real gateway and checks, beside
 * the answer, that nothing stored changed and that the answer names nothing internal (state.ts).
 *
 * These are today's answers, which follow the real services (the seeds in the shared folder, the original
 * CloudMailing server, Mailkit's, Emailicious' and Sender's documentation and clients). A refactor changes
 * none of them.
 *
 * "Another account's id" is written with the very function of "unknown id", given the other account's ids:
 * an object of another account is answered exactly as one that does not exist.
 */

// --------------------------------------------------------------------------------------------------- scenarios

export const DIALECTS = ['cloudmailing', 'jsonrpc', 'mailkit-json', 'mailkit-xmlrpc', 'emailicious', 'sender'] as const;
export type Dialect = (typeof DIALECTS)[number];

export const SCENARIOS = ['unknown id', "another account's id", 'bad address', 'oversize call', 'bad credentials', 'null character'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The gateway's limits in this matrix (small, so an oversize call stays cheap). */
export const LIMITS = { MAX_BODY_BYTES: 65536, MAX_RECIPIENTS_PER_CALL: 5 } as const;
/** Over MAX_BODY_BYTES once wrapped in any envelope. */
const OVERSIZE = 70_000;

/** Names nothing in any account. */
export const UNKNOWN = {
  id: 987654,
  uuid: '00000000-0000-4000-8000-000000000000',
  slug: 'no-such-list',
  campaign: 'no-such-campaign',
  account: 'nobody',
} as const;

/** What the test made before the matrix runs: the caller's account (`acme`) and the other one's objects. */
export interface Fixtures {
  key: { id: number; secret: string };
  mine: {
    /** A CloudMailing mailing, not started. */
    mailing: number;
    list: { id: number; slug: string };
    subscriber: { id: number; email: string };
    unsubscribeList: string;
  };
  other: {
    account: string;
    key: { id: number; secret: string };
    /** A CloudMailing mailing with one recipient. */
    mailing: number;
    recipient: string;
    list: { id: number; slug: string };
    subscriber: { id: number; email: string };
    /** An Emailicious mailing of that list. */
    newsletter: number;
    /** A transactional mailing (Sender's campaign): its name and id. */
    campaign: { name: string; id: number };
    /** A Sender bulk task. */
    task: string;
    unsubscribeList: string;
  };
}

// ------------------------------------------------------------------------------------------------- the calls

export type Credentials = { user: string; pass: string } | null;

export type Call =
  /** Python's xmlrpc.client: ServerProxy(`http://user:pass@host/path`), allow_none as Mailkit's clients set it. */
  | { xmlrpc: '/CloudMailing' | '/rpc.fcgi'; auth: Credentials; method: string; params: unknown[] }
  /** node's fetch; `auth` becomes `Authorization: Basic`. */
  | { http: string; path: string; auth: Credentials; json?: unknown; form?: Record<string, string>; accept?: string };

/** `{"$binary": ...}`: the driver sends an xmlrpc.client.Binary (Python 3 clients send bytes so). */
const binary = (text: string) => ({ $binary: Buffer.from(text).toString('base64') });
/** Base64 text in a string (not a base64 value). */
const base64 = (text: string) => Buffer.from(text).toString('base64');
/** `{"$repeat": ["x", n]}`: the driver makes the long string. */
const repeat = (s: string, n: number) => ({ $repeat: [s, n] });

// -------------------------------------------------------------------------------------------- the answers

export interface Expected {
  status: number;
  contentType: string;
  wwwAuthenticate?: string | null;
  allow?: string | null;
  vary?: string | null;
  /** The exact body. */
  body: string;
  /** XML-RPC only: what Python's xmlrpc.client gives its caller. */
  client?: { value: unknown } | { fault: [number, string] } | { protocolError: [number, string] };
}

export interface Probe {
  call: Call;
  answer: Expected;
  /**
   * Tables the call changes today although it should change nothing: a problem reported to the lead, stated
   * here so that the matrix says exactly what happens (and fails when it changes, fixed or worse).
   */
  storesToday?: { tables: string[]; problem: string };
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  413: 'Payload Too Large',
};
const XML = 'text/xml; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';

/** An XML-RPC value as the gateway writes it: compact, `<int>` or Mailkit's `<i4>`, text with & < > escaped. */
function xv(v: unknown, int: 'int' | 'i4'): string {
  if (typeof v === 'string') return `<value><string>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</string></value>`;
  if (typeof v === 'number') return `<value><${int}>${v}</${int}></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map((x) => xv(x, int)).join('')}</data></array></value>`;
  const members = Object.entries(v as object).map(([k, x]) => `<member><name>${k}</name>${xv(x, int)}</member>`);
  return `<value><struct>${members.join('')}</struct></value>`;
}

/** CloudMailing's fault, in an answer of HTTP `status` (200, or the code for the methods the original sets it on). */
const fault = (status: number, faultCode: number, faultString: string): Expected => ({
  status,
  contentType: XML,
  body: `<?xml version="1.0"?><methodResponse><fault>${xv({ faultCode, faultString }, 'int')}</fault></methodResponse>`,
  client: status === 200 ? { fault: [faultCode, faultString] } : { protocolError: [status, REASONS[status]!] },
});
/** CloudMailing's answer. */
const result = (value: unknown): Expected => ({
  status: 200,
  contentType: XML,
  body: `<?xml version="1.0"?><methodResponse><params><param>${xv(value, 'int')}</param></params></methodResponse>`,
  client: { value },
});
/** Mailkit over XML-RPC: every answer, errors included, is a normal methodResponse (an error is its text). */
const mkXml = (value: unknown): Expected => ({
  status: 200,
  contentType: XML,
  body: `<?xml version="1.0" encoding="utf-8"?><methodResponse><params><param>${xv(value, 'i4')}</param></params></methodResponse>`,
  client: { value },
});
/** JSON, as express writes it (compact, keys in this order). */
const json = (status: number, body: unknown, headers: Pick<Expected, 'wwwAuthenticate' | 'allow' | 'vary'> = {}): Expected => ({
  status,
  contentType: JSON_TYPE,
  ...headers,
  body: JSON.stringify(body),
});
/** The body limit of the RPC dialects: a plain-text 413 (for Python, a ProtocolError). */
const tooLarge = (viaPython: boolean): Expected => ({
  status: 413,
  contentType: TEXT,
  body: `Request body too large (limit ${LIMITS.MAX_BODY_BYTES} bytes).\n`,
  ...(viaPython ? { client: { protocolError: [413, 'Payload Too Large'] as [number, string] } } : {}),
});

const NUL_STORED = 'a text value contains a null character (U+0000), which cannot be stored';
const NUL_XML = 'a character not allowed in XML 1.0 (U+0000)';

// ---------------------------------------------------------------------------- CloudMailing and JSON-RPC

/** The CloudMailing method table, over XML-RPC (`/CloudMailing`) or JSON-RPC 2.0 (`/jsonrpc`). */
type Transport = 'xmlrpc' | 'jsonrpc';
type RpcAnswer = { fault: [number, string]; status?: number } | { value: unknown };

/**
 * One CloudMailing call over either transport. `answer` is a fault, with the HTTP status the original server
 * sets over XML-RPC (200 when none; JSON-RPC answers every error in an HTTP 200, its error `code` the fault
 * code), or the result.
 */
function cloudmailing(f: Fixtures, transport: Transport, auth: Credentials = { user: 'admin', pass: f.key.secret }) {
  return (method: string, params: unknown[], answer: RpcAnswer): Probe =>
    transport === 'xmlrpc'
      ? {
          call: { xmlrpc: '/CloudMailing', auth, method, params },
          answer: 'fault' in answer ? fault(answer.status ?? 200, ...answer.fault) : result(answer.value),
        }
      : {
          call: { http: 'POST', path: '/jsonrpc', auth, json: { jsonrpc: '2.0', id: 1, method, params } },
          answer: 'fault' in answer ? rpcError(...answer.fault) : rpcResult(answer.value),
        };
}
const rpcError = (code: number, message: string) => json(200, { jsonrpc: '2.0', id: 1, error: { code, message } });
const rpcResult = (value: unknown) => json(200, { jsonrpc: '2.0', id: 1, result: value });

/** A mailing (and a recipient) the caller cannot see: fault 404, with HTTP 404 where the original sets it. */
function cloudmailingNotFound(f: Fixtures, transport: Transport, mailing: number, recipient: string): Probe[] {
  const cm = cloudmailing(f, transport);
  // The original's words (cloud_mailing/master/api_common.py, xmlrpc_api.py).
  const gone = { fault: [404, 'Mailing not found!'] as [number, string], status: 404 };
  return [
    cm('start_mailing', [mailing], gone),
    cm('pause_mailing', [mailing], gone),
    cm('set_mailing_properties', [mailing, { subject: 'Changed', charset: 'utf-8' }], { fault: [404, `Mailing [${mailing}] not found!`], status: 404 }),
    cm('add_recipients', [mailing, [{ email: 'new@example.org' }]], gone),
    cm('send_test', [mailing, [{ email: 'new@example.org' }]], gone),
    cm('delete_mailing', [mailing], gone),
    cm('list_mailings', [{ id: [mailing] }], { value: [] }),
    cm('get_recipients_count', [{ mailings: [mailing] }], { value: 0 }),
    cm('get_recipients_status', [[recipient]], { value: [] }),
    cm('reset_recipients_status', [[recipient]], { value: 0 }),
    // JSON-RPC takes the parameters by name too.
    ...(transport === 'jsonrpc'
      ? [
          {
            ...cm('start_mailing', [], gone),
            call: {
              http: 'POST',
              path: '/jsonrpc',
              auth: { user: 'admin', pass: f.key.secret },
              json: { jsonrpc: '2.0', id: 1, method: 'start_mailing', params: { mailing_id: mailing } },
            },
          },
        ]
      : []),
  ];
}

function cloudmailingBadAddress(f: Fixtures, transport: Transport): Probe[] {
  const cm = cloudmailing(f, transport);
  const refused: [number, string] = [406, 'mail_from: not an e-mail address: "not-an-address"'];
  return [
    // The seed's create_mailing, with a bad sender.
    cm('create_mailing', ['not-an-address', 'My Mailing', 'The great newsletter', '<h1>Title</h1><p>Coucou</p>', 'Title\nCoucou\n', 'UTF-8'], {
      fault: refused,
    }),
    cm('set_mailing_properties', [f.mine.mailing, { mail_from: 'not-an-address' }], { fault: refused, status: 406 }),
    // The original's words, one answer per recipient.
    cm('add_recipients', [f.mine.mailing, [{ email: 'not an email', firstname: 'Bad' }]], {
      value: [{ email: 'not an email', error: "'email' field is not a regular email address: 'not an email'" }],
    }),
  ];
}

function cloudmailingOversize(f: Fixtures, transport: Transport): Probe[] {
  const cm = cloudmailing(f, transport);
  const six = Array.from({ length: LIMITS.MAX_RECIPIENTS_PER_CALL + 1 }, (_, i) => ({ email: `r${i}@example.org` }));
  return [
    {
      ...cm('create_mailing', ['news@example.org', 'Sender', 'Subject', transport === 'xmlrpc' ? repeat('x', OVERSIZE) : 'x'.repeat(OVERSIZE)], { value: 0 }),
      answer: tooLarge(transport === 'xmlrpc'),
    },
    cm('add_recipients', [f.mine.mailing, six], {
      fault: [400, `Too many recipients in one call: 6 (at most ${LIMITS.MAX_RECIPIENTS_PER_CALL}); split them over several calls`],
      status: 400,
    }),
  ];
}

function cloudmailingBadCredentials(f: Fixtures, transport: Transport): Probe[] {
  const create = (auth: Credentials) =>
    cloudmailing(f, transport, auth)('create_mailing', ['news@example.org', 'Sender', 'Subject', '<p>Hi</p>'], { value: 0 }).call;
  const failed =
    transport === 'xmlrpc'
      ? fault(200, 401, 'Authorization Failed!')
      : json(401, { jsonrpc: '2.0', error: { code: 401, message: 'Authorization Failed!' }, id: null }, { wwwAuthenticate: 'Basic realm="Mailgate JSON-RPC"' });
  const missing = transport === 'xmlrpc' ? { ...fault(401, 401, 'Authorization required!'), wwwAuthenticate: 'Basic realm="CloudMailing"' } : failed;
  return [
    { call: create({ user: 'admin', pass: 'not-the-secret' }), answer: failed },
    // The login is fixed to `admin`.
    { call: create({ user: 'root', pass: f.key.secret }), answer: failed },
    { call: create(null), answer: missing },
  ];
}

function cloudmailingNullCharacter(f: Fixtures, transport: Transport): Probe[] {
  const cm = cloudmailing(f, transport);
  const refused: [number, string] = [406, NUL_STORED];
  return [
    // Python writes U+0000 into the XML as it is, which XML 1.0 cannot carry; JSON carries it to the store.
    cm('create_mailing', ['news@example.org', 'Sender', 'Sub\u0000ject', '<p>Hi</p>'], {
      fault: transport === 'xmlrpc' ? [-32700, `parse error: ${NUL_XML}`] : refused,
    }),
    ...(transport === 'xmlrpc'
      ? [
          // As bytes (a base64 value, what Python 3 sends for bytes), it reaches the store, which cannot keep it.
          cm('create_mailing', ['news@example.org', 'Sender', binary('Sub\u0000ject'), '<p>Hi</p>'], { fault: refused }),
          cm('set_mailing_properties', [f.mine.mailing, { subject: binary('Sub\u0000ject'), charset: 'utf-8' }], { fault: refused, status: 406 }),
        ]
      : [
          cm('set_mailing_properties', [f.mine.mailing, { subject: 'Sub\u0000ject', charset: 'utf-8' }], { fault: refused }),
          // Today the whole call is refused, the good recipient with the bad one, where add_recipients otherwise
          // answers each recipient on its own.
          cm('add_recipients', [f.mine.mailing, [{ email: 'good@example.org' }, { email: 'nul@example.org', firstname: 'a\u0000b' }]], { fault: refused }),
        ]),
  ];
}

// ---------------------------------------------------------------------------------------------------- Mailkit

type Encoding = 'json' | 'xml';
type MailkitCreds = { id?: unknown; md5?: unknown };

/**
 * One Mailkit call in both encodings: JSON `{"function", "id", "md5", "parameters"}` on /json.fcgi (ids as
 * strings, as the Java and PHP clients send them), and XML-RPC on /rpc.fcgi (client_id as a string, as PHP
 * sends it, and client_md5 first, then the function's parameters in order). `answer` is an error text (JSON
 * `{"error_status": 1, "error"}`, XML-RPC the bare string) or the value in each encoding.
 */
function mailkit(f: Fixtures, encoding: Encoding, creds: MailkitCreds = { id: String(f.key.id), md5: f.key.secret }) {
  return (fn: string, named: Record<string, unknown>, positional: unknown[], answer: string | { json: Expected; xml: unknown }): Probe =>
    encoding === 'json'
      ? {
          call: { http: 'POST', path: '/json.fcgi', auth: null, json: { function: fn, ...creds, parameters: named } },
          answer: typeof answer === 'string' ? mkError(answer) : answer.json,
        }
      : {
          call: { xmlrpc: '/rpc.fcgi', auth: null, method: fn, params: [creds.id ?? '', creds.md5 ?? '', ...positional] },
          answer: mkXml(typeof answer === 'string' ? answer : answer.xml),
        };
}
const mkError = (text: string) => json(200, { error_status: 1, error: text });
const EMPTY = { '': null }; // how PHP clients write an empty struct

/** A list, a subscriber, a campaign the caller cannot see: Mailkit's `Invalid <parameter>`, never more. */
function mailkitNotFound(f: Fixtures, encoding: Encoding, o: { list: number; subscriber: number; mailing: number }): Probe[] {
  const mk = mailkit(f, encoding);
  const [list, subscriber, mailing, mine] = [String(o.list), String(o.subscriber), String(o.mailing), String(f.mine.list.id)];
  return [
    mk('mailkit.mailinglist.delete', { ID_user_list: list }, [list, 'FALSE'], 'Invalid ID_user_list'),
    mk(
      'mailkit.mailinglist.adduser',
      { ID_user_list: list, personal: { email: 'new@example.org' } },
      [list, 'FALSE', { email: 'new@example.org' }, EMPTY, EMPTY],
      'Invalid ID_mailing_list',
    ),
    mk(
      'mailkit.mailinglist.edituser',
      { ID_user_list: list, ID_email: subscriber, personal: { first_name: 'Changed' } },
      [list, subscriber, 'TRUE', { first_name: 'Changed' }, EMPTY, EMPTY],
      'Invalid ID_email',
    ),
    mk(
      'mailkit.mailinglist.edituser',
      { ID_user_list: mine, ID_email: subscriber, personal: { first_name: 'Changed' } },
      [mine, subscriber, 'TRUE', { first_name: 'Changed' }, EMPTY, EMPTY],
      'Invalid ID_email',
    ),
    mk('mailkit.email.unsubscribe', { ID_email: subscriber }, [subscriber, null, false], 'Invalid ID_email or email'),
    // Mailkit's own answer for an address or id it does not know: the empty error.
    mk('mailkit.email.getstatus', { email_id: subscriber }, [subscriber], ''),
    mk('mailkit.report.campaign', { ID_message: mailing }, [mailing, '', ''], 'Invalid ID_message'),
    mk('mailkit.campaigns.list', { ID_message: mailing }, [mailing], { json: json(200, []), xml: [] }),
    mk(
      'mailkit.sendmail',
      { mailinglist_id: mine, campaign_id: mailing, main: { send_to: 'new@example.org' } },
      [mine, mailing, { send_to: 'new@example.org' }, EMPTY, EMPTY, EMPTY],
      'Invalid ID_message',
    ),
  ];
}

function mailkitBadAddress(f: Fixtures, encoding: Encoding): Probe[] {
  const mk = mailkit(f, encoding);
  const [list, mailing] = [String(f.mine.list.id), String(f.mine.mailing)];
  return [
    mk(
      'mailkit.mailinglist.adduser',
      { ID_user_list: list, personal: { email: 'not-an-address' } },
      [list, 'FALSE', { email: 'not-an-address' }, EMPTY, EMPTY],
      'Bad email syntax',
    ),
    mk('mailkit.email.unsubscribe', { ID_email: 'not an address' }, ['not an address', null, false], 'Invalid ID_email or email'),
    mk(
      'mailkit.sendmail',
      { mailinglist_id: list, campaign_id: mailing, main: { send_to: 'not-an-address' } },
      [list, mailing, { send_to: 'not-an-address' }, EMPTY, EMPTY, EMPTY],
      'Bad email syntax',
    ),
  ];
}

function mailkitOversize(f: Fixtures, encoding: Encoding): Probe[] {
  const mk = mailkit(f, encoding);
  return [
    // Refused before the body is read, credentials and all.
    { ...mk('mailkit.mailinglist.create', { name: 'x'.repeat(OVERSIZE) }, [repeat('x', OVERSIZE), ''], ''), answer: tooLarge(encoding === 'xml') },
    mk('mailkit.report.raw.bounces', { ID_undelivered_log: '1', limit: '25001' }, ['', '', 1, 25001], 'Invalid limit: at most 25000'),
  ];
}

function mailkitBadCredentials(f: Fixtures, encoding: Encoding): Probe[] {
  const create = (creds: MailkitCreds) =>
    mailkit(f, encoding, creds)('mailkit.mailinglist.create', { name: 'Created', description: '' }, ['Created', ''], 'Unauthorized');
  return [
    create({ id: String(f.key.id), md5: 'not-the-secret' }),
    // The secret of one key with the id of another.
    create({ id: String(f.other.key.id), md5: f.key.secret }),
    create({ id: String(f.key.id) }),
  ];
}

const BASE64_NUL = 'a base64 value holding U+0000 is not decoded: its base64 text is stored as the value';

function mailkitNullCharacter(f: Fixtures, encoding: Encoding): Probe[] {
  const mk = mailkit(f, encoding);
  const list = String(f.mine.list.id);
  const refused = `Invalid parameter: ${NUL_STORED}`;
  // XML-RPC: the bare string OK, as Mailkit answers edituser (igloonet's editUser() reads a string).
  const edited = { json: json(200, { error_status: 0, error: 'OK', ID_email: f.mine.subscriber.id }), xml: 'OK' };
  return [
    // Python writes U+0000 into the XML as it is, which XML 1.0 cannot carry; JSON carries it to the store.
    mk(
      'mailkit.mailinglist.create',
      { name: 'News\u0000', description: '' },
      ['News\u0000', ''],
      encoding === 'xml' ? `Invalid XML-RPC request: ${NUL_XML}` : refused,
    ),
    // As bytes (a base64 value, what Python 3 sends for bytes), it reaches the store, which cannot keep it.
    ...(encoding === 'xml' ? [mk('mailkit.mailinglist.create', {}, [binary('News\u0000'), ''], refused)] : []),
    mk(
      'mailkit.mailinglist.adduser',
      { ID_user_list: list, personal: { email: 'nul@example.org', first_name: 'a\u0000b' } },
      [list, 'FALSE', { email: 'nul@example.org', first_name: binary('a\u0000b') }, EMPTY, EMPTY],
      refused,
    ),
    // One bad item refuses the whole import: the good address is not stored either.
    mk(
      'mailkit.mailinglist.import',
      { ID_user_list: list, recipients: [{ email: 'good@example.org' }, { email: 'nul@example.org', first_name: 'a\u0000b' }] },
      [list, [{ email: 'good@example.org' }, { email: 'nul@example.org', first_name: binary('a\u0000b') }]],
      refused,
    ),
    {
      // Base64 text in a string, as Mailkit's PHP clients encode every user value (a new value per encoding,
      // so that each stores a change).
      ...mk(
        'mailkit.mailinglist.edituser',
        { ID_user_list: list, ID_email: f.mine.subscriber.email, personal: { first_name: base64(`${encoding}\u0000`) } },
        [list, f.mine.subscriber.email, 'TRUE', { first_name: base64(`${encoding}\u0000`) }, EMPTY, EMPTY],
        edited,
      ),
      storesToday: { tables: ['public.subscribers'], problem: BASE64_NUL },
    },
  ];
}

// ------------------------------------------------------------------------------------------------ Emailicious

const EMAILICIOUS_USER = 'user@example.com';
function emailicious(f: Fixtures, auth: Credentials = { user: EMAILICIOUS_USER, pass: f.key.secret }) {
  return (method: string, path: string, body?: { json?: unknown; form?: Record<string, string> }): Call => ({
    http: method,
    path: `/api/v1${path}`,
    auth,
    accept: 'application/json',
    ...body,
  });
}
/** Every resource answers with its Allow and `Vary: Accept`, errors included. */
const ALLOW = {
  lists: 'GET, POST, HEAD, OPTIONS',
  list: 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS',
  subscribers: 'GET, POST, HEAD, OPTIONS',
  subscriber: 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS',
  action: 'POST, OPTIONS',
  mailings: 'GET, POST, HEAD, OPTIONS',
  mailing: 'GET, HEAD, OPTIONS',
} as const;
const drf = (status: number, allow: string, body: unknown) => json(status, body, { allow, vary: 'Accept' });
const NOT_FOUND = { detail: 'Not found.' };

function emailiciousNotFound(f: Fixtures, o: { list: number; subscriber: number; mailing: number }): Probe[] {
  const em = emailicious(f);
  const mine = f.mine.list.id;
  return [
    { call: em('GET', `/lists/${o.list}`), answer: drf(404, ALLOW.list, NOT_FOUND) },
    { call: em('PATCH', `/lists/${o.list}`, { json: { name: 'Changed' } }), answer: drf(404, ALLOW.list, NOT_FOUND) },
    { call: em('DELETE', `/lists/${o.list}`), answer: drf(404, ALLOW.list, NOT_FOUND) },
    { call: em('GET', `/lists/${o.list}/subscribers`), answer: drf(404, ALLOW.subscribers, NOT_FOUND) },
    { call: em('POST', `/lists/${o.list}/subscribers`, { json: { email: 'new@example.org' } }), answer: drf(404, ALLOW.subscribers, NOT_FOUND) },
    { call: em('GET', `/lists/${mine}/subscribers/${o.subscriber}`), answer: drf(404, ALLOW.subscriber, NOT_FOUND) },
    { call: em('PATCH', `/lists/${o.list}/subscribers/${o.subscriber}`, { json: { first_name: 'Changed' } }), answer: drf(404, ALLOW.subscriber, NOT_FOUND) },
    { call: em('DELETE', `/lists/${o.list}/subscribers/${o.subscriber}`), answer: drf(404, ALLOW.subscriber, NOT_FOUND) },
    { call: em('POST', `/lists/${o.list}/subscribers/${o.subscriber}/unsubscribe`), answer: drf(404, ALLOW.action, NOT_FOUND) },
    { call: em('GET', `/mailings/${o.mailing}`), answer: drf(404, ALLOW.mailing, NOT_FOUND) },
    { call: em('GET', `/mailings?list=${o.list}`), answer: drf(200, ALLOW.mailings, { count: 0, next: null, previous: null, results: [] }) },
    {
      call: em('POST', '/mailings', { json: { list: o.list, name: 'New', variants: [{ subject: 'Hello', layout: { text: 'Hello' } }] } }),
      answer: drf(400, ALLOW.mailings, { list: [`Invalid pk "${o.list}" - object does not exist.`] }),
    },
  ];
}

// ----------------------------------------------------------------------------------------------------- Sender

function sender(f: Fixtures, account = 'acme', auth: Credentials = { user: f.key.secret, pass: '' }) {
  return (method: string, path: string, body?: { json?: unknown; form?: Record<string, string> }): Call => ({
    http: method,
    path: `/api/0/${account}${path}`,
    auth,
    ...body,
  });
}
const senderError = (status: number, error: unknown, headers: Pick<Expected, 'wwwAuthenticate'> = {}) =>
  json(status, { result: { status: 'ERROR', error } }, headers);
/** The unsubscribe pages' bare DRF shape. */
const bare = (status: number, detail: string) => json(status, { detail });
const FORBIDDEN = senderError(403, { detail: 'You do not have permission to perform this action.' });

function senderNotFound(f: Fixtures, o: { list: string; campaign: string; task: string; unsubscribeList: string }): Probe[] {
  const sd = sender(f);
  const noList = senderError(404, { detail: 'Maillist not found.' });
  const noCampaign = senderError(404, { detail: 'Campaign not found' });
  return [
    { call: sd('PUT', `/maillist/${o.list}/subscription`, { form: { email: 'new@example.org', params: '{"name": "New"}' } }), answer: noList },
    { call: sd('DELETE', `/maillist/${o.list}/subscription`, { form: { email: 'new@example.org' } }), answer: noList },
    { call: sd('POST', `/maillist/${o.list}/subscription/request`, { form: { to_email: 'new@example.org' } }), answer: noList },
    { call: sd('PUT', `/maillist/${o.list}/subscription/bulk`, { json: { items: [{ email: 'new@example.org' }] } }), answer: noList },
    { call: sd('DELETE', `/maillist/${o.list}/subscription/bulk`, { json: [{ email: 'new@example.org' }] }), answer: noList },
    { call: sd('GET', `/maillist/${o.list}/content`), answer: noList },
    { call: sd('GET', `/maillist/${o.list}/email/${f.other.subscriber.email}`), answer: senderError(404, { detail: 'Email is not in maillist.' }) },
    { call: sd('GET', `/maillist/${o.list}`), answer: noList },
    { call: sd('DELETE', `/maillist/${o.list}`), answer: noList },
    { call: sd('POST', `/transactional/${o.campaign}/send`, { form: { to_email: 'new@example.org', args: '{"n": "1"}' } }), answer: noCampaign },
    { call: sd('GET', `/transactional/${o.campaign}/status?message_id=x`), answer: noCampaign },
    { call: sd('GET', `/tasks/${o.task}`), answer: senderError(404, { detail: `Task ${o.task} not found.` }) },
    { call: sd('PUT', `/unsubscribe/list/${o.unsubscribeList}`, { form: { email: 'new@example.org' } }), answer: bare(404, 'Not found.') },
    { call: sd('GET', `/unsubscribe/list/${o.unsubscribeList}/content`), answer: bare(404, 'Not found.') },
    { call: sd('GET', `/unsubscribe/list/${o.unsubscribeList}/email/new@example.org`), answer: bare(404, 'Email is not in unsublist.') },
  ];
}

/** An account in the URL that is not the key's: 403, whether it exists or not. */
const senderOtherAccount = (f: Fixtures, account: string): Probe[] => [
  { call: sender(f, account)('PUT', `/maillist/${f.other.list.slug}/subscription`, { form: { email: 'new@example.org' } }), answer: FORBIDDEN },
  { call: sender(f, account)('GET', `/maillist/${f.other.list.slug}/content`), answer: FORBIDDEN },
];

// ---------------------------------------------------------------------------------------------- the matrix

export type Matrix = Record<Dialect, Record<Scenario, (f: Fixtures) => Probe[]>>;

export const MATRIX: Matrix = {
  cloudmailing: {
    'unknown id': (f) => cloudmailingNotFound(f, 'xmlrpc', UNKNOWN.id, UNKNOWN.uuid),
    "another account's id": (f) => cloudmailingNotFound(f, 'xmlrpc', f.other.mailing, f.other.recipient),
    'bad address': (f) => cloudmailingBadAddress(f, 'xmlrpc'),
    'oversize call': (f) => cloudmailingOversize(f, 'xmlrpc'),
    'bad credentials': (f) => cloudmailingBadCredentials(f, 'xmlrpc'),
    'null character': (f) => cloudmailingNullCharacter(f, 'xmlrpc'),
  },

  jsonrpc: {
    'unknown id': (f) => cloudmailingNotFound(f, 'jsonrpc', UNKNOWN.id, UNKNOWN.uuid),
    "another account's id": (f) => cloudmailingNotFound(f, 'jsonrpc', f.other.mailing, f.other.recipient),
    'bad address': (f) => cloudmailingBadAddress(f, 'jsonrpc'),
    'oversize call': (f) => cloudmailingOversize(f, 'jsonrpc'),
    'bad credentials': (f) => cloudmailingBadCredentials(f, 'jsonrpc'),
    'null character': (f) => cloudmailingNullCharacter(f, 'jsonrpc'),
  },

  'mailkit-json': {
    'unknown id': (f) => mailkitNotFound(f, 'json', { list: UNKNOWN.id, subscriber: UNKNOWN.id, mailing: UNKNOWN.id }),
    "another account's id": (f) => mailkitNotFound(f, 'json', { list: f.other.list.id, subscriber: f.other.subscriber.id, mailing: f.other.mailing }),
    'bad address': (f) => mailkitBadAddress(f, 'json'),
    'oversize call': (f) => mailkitOversize(f, 'json'),
    'bad credentials': (f) => mailkitBadCredentials(f, 'json'),
    'null character': (f) => mailkitNullCharacter(f, 'json'),
  },

  'mailkit-xmlrpc': {
    'unknown id': (f) => mailkitNotFound(f, 'xml', { list: UNKNOWN.id, subscriber: UNKNOWN.id, mailing: UNKNOWN.id }),
    "another account's id": (f) => mailkitNotFound(f, 'xml', { list: f.other.list.id, subscriber: f.other.subscriber.id, mailing: f.other.mailing }),
    'bad address': (f) => mailkitBadAddress(f, 'xml'),
    'oversize call': (f) => mailkitOversize(f, 'xml'),
    'bad credentials': (f) => mailkitBadCredentials(f, 'xml'),
    'null character': (f) => mailkitNullCharacter(f, 'xml'),
  },

  emailicious: {
    'unknown id': (f) => emailiciousNotFound(f, { list: UNKNOWN.id, subscriber: UNKNOWN.id, mailing: UNKNOWN.id }),
    "another account's id": (f) => emailiciousNotFound(f, { list: f.other.list.id, subscriber: f.other.subscriber.id, mailing: f.other.newsletter }),
    'bad address': (f) => {
      const em = emailicious(f);
      const list = f.mine.list.id;
      const invalid = (field: string, allow: string) => drf(400, allow, { [field]: ['Enter a valid email address.'] });
      return [
        {
          call: em('POST', `/lists/${list}/subscribers`, { json: { email: 'not-an-address', first_name: 'Bad' } }),
          answer: invalid('email', ALLOW.subscribers),
        },
        // The PHP client's form body.
        {
          call: em('POST', `/lists/${list}/subscribers`, { form: { email: 'not-an-address', first_name: 'Bad' } }),
          answer: invalid('email', ALLOW.subscribers),
        },
        {
          call: em('PATCH', `/lists/${list}/subscribers/${f.mine.subscriber.id}`, { json: { email: 'not-an-address' } }),
          answer: invalid('email', ALLOW.subscriber),
        },
        { call: em('POST', '/lists', { json: { name: 'New', default_from_email: 'not-an-address' } }), answer: invalid('default_from_email', ALLOW.lists) },
        {
          call: em('POST', '/mailings', {
            json: { list, name: 'New', variants: [{ from_email: 'not-an-address', subject: 'Hello', layout: { text: 'Hello' } }] },
          }),
          answer: drf(400, ALLOW.mailings, { variants: [{ from_email: ['Enter a valid email address.'] }] }),
        },
      ];
    },
    'oversize call': (f) => [
      {
        call: emailicious(f)('POST', `/lists/${f.mine.list.id}/subscribers`, { json: { email: 'big@example.org', first_name: 'x'.repeat(OVERSIZE) } }),
        answer: drf(413, ALLOW.subscribers, { detail: `Request body too large (limit ${LIMITS.MAX_BODY_BYTES} bytes).` }),
      },
    ],
    'bad credentials': (f) => {
      const create = (auth: Credentials) => emailicious(f, auth)('POST', '/lists', { json: { name: 'Created' } });
      return [
        {
          call: create({ user: EMAILICIOUS_USER, pass: 'not-the-secret' }),
          answer: json(401, { detail: 'Invalid username/password.' }, { wwwAuthenticate: 'Basic realm="api"' }),
        },
        { call: create(null), answer: json(401, { detail: 'Authentication credentials were not provided.' }, { wwwAuthenticate: 'Basic realm="api"' }) },
      ];
    },
    'null character': (f) => {
      const em = emailicious(f);
      const nul = (field: string, allow: string) => drf(400, allow, { [field]: ['Null characters are not allowed.'] });
      return [
        {
          call: em('POST', `/lists/${f.mine.list.id}/subscribers`, { json: { email: 'nul@example.org', first_name: 'a\u0000b' } }),
          answer: nul('first_name', ALLOW.subscribers),
        },
        {
          call: em('POST', `/lists/${f.mine.list.id}/subscribers`, { json: { email: 'nul@example.org', city: 'a\u0000b' } }),
          answer: nul('city', ALLOW.subscribers),
        },
        {
          call: em('PATCH', `/lists/${f.mine.list.id}/subscribers/${f.mine.subscriber.id}`, { form: { last_name: 'a\u0000b' } }),
          answer: nul('last_name', ALLOW.subscriber),
        },
        { call: em('POST', '/lists', { json: { name: 'a\u0000b' } }), answer: nul('name', ALLOW.lists) },
      ];
    },
  },

  sender: {
    'unknown id': (f) => [
      ...senderNotFound(f, { list: UNKNOWN.slug, campaign: UNKNOWN.campaign, task: UNKNOWN.uuid, unsubscribeList: UNKNOWN.slug }),
      ...senderOtherAccount(f, UNKNOWN.account),
    ],
    "another account's id": (f) => [
      ...senderNotFound(f, { list: f.other.list.slug, campaign: f.other.campaign.name, task: f.other.task, unsubscribeList: f.other.unsubscribeList }),
      // A campaign is named by its slug or by its id.
      {
        call: sender(f)('POST', `/transactional/${f.other.campaign.id}/send`, { form: { to_email: 'new@example.org' } }),
        answer: senderError(404, { detail: 'Campaign not found' }),
      },
      ...senderOtherAccount(f, f.other.account),
    ],
    'bad address': (f) => {
      const sd = sender(f);
      const list = f.mine.list.slug;
      const wrong = senderError(400, { detail: 'Wrong email format' });
      return [
        // The seed's own call, with a bad address.
        {
          call: sd('PUT', `/maillist/${list}/subscription`, { form: { params: '{"name":"Test Test","var1":"value1"}', email: 'not-an-address' } }),
          answer: wrong,
        },
        { call: sd('PUT', `/maillist/${list}/subscription`, { json: { email: 'not-an-address', params: { name: 'Test' } } }), answer: wrong },
        { call: sd('DELETE', `/maillist/${list}/subscription`, { form: { email: 'not-an-address' } }), answer: wrong },
        { call: sd('POST', `/maillist/${list}/subscription/request`, { form: { to_email: 'not-an-address' } }), answer: wrong },
        { call: sd('GET', `/maillist/${list}/email/not-an-address`), answer: wrong },
        {
          call: sd('PUT', `/maillist/${list}/subscription/bulk`, { json: { items: [{ email: 'good@example.org' }, { email: 'not-an-address' }] } }),
          answer: senderError(400, { items: ['items[1]: invalid email address: "not-an-address"'] }),
        },
        // The address is checked before the campaign is looked up.
        {
          call: sd('POST', `/transactional/${UNKNOWN.campaign}/send`, { form: { to_email: 'not-an-address' } }),
          answer: senderError(400, { to_email: ['Enter a valid email address.'] }),
        },
        { call: sd('PUT', `/unsubscribe/list/${f.mine.unsubscribeList}`, { form: { email: 'not-an-address' } }), answer: bare(400, 'Wrong email format') },
      ];
    },
    'oversize call': (f) => {
      const sd = sender(f);
      const list = f.mine.list.slug;
      const tooBig = senderError(413, { detail: `Request body too large (limit ${LIMITS.MAX_BODY_BYTES} bytes).` });
      return [
        {
          call: sd('PUT', `/maillist/${list}/subscription`, { form: { email: 'big@example.org', params: JSON.stringify({ note: 'x'.repeat(OVERSIZE) }) } }),
          answer: tooBig,
        },
        { call: sd('PUT', `/maillist/${list}/subscription`, { json: { email: 'big@example.org', params: { note: 'x'.repeat(OVERSIZE) } } }), answer: tooBig },
        {
          call: sd('PUT', `/maillist/${list}/subscription/bulk`, { json: { items: Array.from({ length: 1001 }, (_, i) => ({ email: `s${i}@example.org` })) } }),
          answer: senderError(400, { detail: 'items: at most 1000 items in one call, got 1001' }),
        },
      ];
    },
    'bad credentials': (f) => {
      const put = (auth: Credentials) => sender(f, 'acme', auth)('PUT', `/maillist/${f.mine.list.slug}/subscription`, { form: { email: 'new@example.org' } });
      return [
        {
          call: put({ user: 'not-the-secret', pass: '' }),
          answer: senderError(401, { detail: 'API key is not valid' }, { wwwAuthenticate: 'Basic realm="api"' }),
        },
        { call: put(null), answer: senderError(401, { detail: 'Authentication credentials were not provided.' }, { wwwAuthenticate: 'Basic realm="api"' }) },
        // A valid key of another account.
        { call: put({ user: f.other.key.secret, pass: '' }), answer: FORBIDDEN },
      ];
    },
    'null character': (f) => {
      const sd = sender(f);
      const list = f.mine.list.slug;
      const nul = senderError(400, { detail: NUL_STORED });
      return [
        {
          call: sd('PUT', `/maillist/${list}/subscription`, { form: { email: 'nul@example.org', params: JSON.stringify({ name: 'a\u0000b' }) } }),
          answer: nul,
        },
        { call: sd('PUT', `/maillist/${list}/subscription`, { json: { email: 'nul@example.org', params: { name: 'a\u0000b' } } }), answer: nul },
        { call: sd('PUT', '/maillist/new-list', { form: { title: 'a\u0000b' } }), answer: nul },
        {
          call: sd('PUT', `/maillist/${list}/subscription/bulk`, {
            json: { items: [{ email: 'good@example.org' }, { email: 'nul@example.org', params: { name: 'a\u0000b' } }] },
          }),
          answer: nul,
        },
      ];
    },
  },
};
