/**
 * The database refusing a write for want of resources (Postgres's own `disk_full`, SQLSTATE 53100, raised by a
 * trigger on the table the call writes, as a full data directory raises it): each dialect answers its "service
 * unavailable" saying why, never an internal error; the log gets one line naming the SQLSTATE; nothing of the
 * call is stored (the rows before the failing one included); and once the trigger is gone, the same call succeeds.
 * The XML-RPC calls go through Python's xmlrpc.client, as the integrations make them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { buildServices, startGateway, type Gateway, type Services } from '../../src/compose.js';
import type { CallContext } from '../../src/core/context.js';
import { signRecipientToken } from '../../src/core/delivery/tokens.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { changedTables, snapshotReader, type Snapshot } from '../support/snapshot.js';

const run = promisify(execFile);

const NO_SPACE = 'Service unavailable: the database has no space left; try again later';

let db: TestDatabase;
let services: Services;
let gateway: Gateway;
let key: { id: number; secret: string; account: string };
let ctx: CallContext;
let snapshot: () => Promise<Snapshot>;
/** Every line the gateway logged, parsed. */
const logged: { level: number; msg: string; sqlState?: string }[] = [];

before(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    BOUNCE_SMTP_PORT: '0',
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'http://mailgate.test',
  });
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) });
  services = await buildServices(config, logger, db.url, { migrate: false });
  gateway = await startGateway(services, { worker: false, http: true });
  key = await services.core.accounts.createKey('acme', 'test');
  ctx = { accountId: (await services.core.accounts.authenticate(key.secret))!.accountId, keyId: key.id, requestId: 'test' };
  snapshot = await snapshotReader(services.pool);
});

after(async () => {
  await gateway?.stop();
  await services?.close();
  await db?.drop();
});

/**
 * While it exists, an insert into `table` of an address starting with `full` fails as Postgres fails a write
 * that cannot extend its file (or with another condition and message).
 */
async function diskFullOn(
  table: string,
  condition = 'disk_full',
  message = 'could not extend file "base/16384/16400": No space left on device',
): Promise<() => Promise<void>> {
  await services.pool.query(`
    CREATE OR REPLACE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.email LIKE 'full%' THEN
        RAISE EXCEPTION '${message}' USING ERRCODE = '${condition}';
      END IF;
      RETURN NEW;
    END $$`);
  await services.pool.query(`CREATE TRIGGER test_disk_full BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION test_disk_full()`);
  return async () => void (await services.pool.query(`DROP TRIGGER test_disk_full ON ${table}`));
}

/**
 * The call made while the disk is full, then again once it is not: the first answer (checked by `refused`)
 * leaves every table as it was and logs one error line with the SQLSTATE; the second (checked by `accepted`)
 * stores the call.
 */
async function whileDiskFull<A>(table: string, call: () => Promise<A>, refused: (a: A) => void, accepted: (a: A) => void): Promise<void> {
  const cure = await diskFullOn(table);
  const before = await snapshot();
  const from = logged.length;
  let answer: A;
  try {
    answer = await call();
  } finally {
    await cure();
  }
  refused(answer);
  assert.deepEqual(changedTables(before, await snapshot()), [], 'nothing stored');
  const lines = logged.slice(from).filter((l) => l.level >= 40);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]!.sqlState, '53100 disk_full');
  assert.match(lines[0]!.msg, /database unavailable: no space left \(SQLSTATE 53100 disk_full: could not extend file/);
  accepted(await call());
  assert.notDeepEqual(changedTables(before, await snapshot()), [], 'the same call stored once the disk has room');
}

/** No answer of a full disk is an internal error. */
function notInternal(text: string): void {
  assert.doesNotMatch(text, /internal error/i);
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

async function http(method: string, path: string, o: { auth: string; json?: unknown }): Promise<{ status: number; text: string; body: unknown }> {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: o.auth, ...(o.json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(o.json !== undefined ? { body: JSON.stringify(o.json) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as unknown };
}

/** One call through Python's xmlrpc.client: its result, its fault, or the HTTP error it raised. */
async function pythonXmlRpc(url: string, method: string, params: unknown[]): Promise<{ result?: unknown; fault?: [number, string]; httpError?: number }> {
  const script = `
import json, sys, xmlrpc.client
call = json.loads(sys.stdin.read())
proxy = xmlrpc.client.ServerProxy(call["url"])
try:
    out = {"result": getattr(proxy, call["method"])(*call["params"])}
except xmlrpc.client.Fault as f:
    out = {"fault": [f.faultCode, f.faultString]}
except xmlrpc.client.ProtocolError as e:
    out = {"httpError": e.errcode}
print(json.dumps(out))
`;
  const child = run('python3', ['-c', script], { timeout: 60_000 });
  child.child.stdin!.end(JSON.stringify({ url, method, params }));
  return JSON.parse((await child).stdout) as { result?: unknown; fault?: [number, string]; httpError?: number };
}

/** A CloudMailing mailing of the test's account. */
const newMailing = () =>
  services.core.mailings.create(ctx, { fromEmail: 'news@example.org', fromName: 'News', subject: 'Hello', html: '<p>x</p>', dialect: 'cloudmailing' });

const withCredentials = (path: string, user: string, pass: string) => gateway.url.replace('//', `//${user}:${pass}@`) + path;

describe('the disk of the database full: every dialect answers "service unavailable", nothing is half-written', () => {
  it('cloudmailing XML-RPC add_recipients (Python xmlrpc.client): fault 503; none of its recipients stored', async () => {
    const mailing = await newMailing();
    const url = withCredentials('/CloudMailing', 'admin', key.secret);
    // The first recipient is written before the second fails: the call's transaction takes both back.
    const call = () => pythonXmlRpc(url, 'add_recipients', [mailing, [{ email: 'room@example.org' }, { email: 'full1@example.org' }]]);
    await whileDiskFull(
      'recipients',
      call,
      (a) => {
        assert.deepEqual(a, { fault: [503, NO_SPACE] });
      },
      (a) => {
        assert.equal((a.result as unknown[]).length, 2, JSON.stringify(a));
      },
    );
  });

  it('cloudmailing JSON-RPC add_recipients: HTTP 503 with error 503', async () => {
    const mailing = await newMailing();
    const call = () =>
      http('POST', '/jsonrpc', {
        auth: basic('admin', key.secret),
        json: { jsonrpc: '2.0', id: 7, method: 'add_recipients', params: [mailing, [{ email: 'room2@example.org' }, { email: 'full2@example.org' }]] },
      });
    await whileDiskFull(
      'recipients',
      call,
      (a) => {
        assert.equal(a.status, 503, a.text);
        assert.deepEqual(a.body, { jsonrpc: '2.0', id: 7, error: { code: 503, message: NO_SPACE } });
        notInternal(a.text);
      },
      (a) => {
        assert.equal(a.status, 200, a.text);
        assert.equal((a.body as { result: unknown[] }).result.length, 2, a.text);
      },
    );
  });

  it('the unsubscribe link, a public page: 503 saying why, never an internal error; nothing stored', async () => {
    const mailing = await newMailing();
    const added = await pythonXmlRpc(withCredentials('/CloudMailing', 'admin', key.secret), 'add_recipients', [mailing, [{ email: 'fullpage@example.org' }]]);
    assert.equal((added.result as unknown[]).length, 1, JSON.stringify(added));
    const { rows } = await services.pool.query<{ id: string }>('SELECT id FROM recipients WHERE email = $1', ['fullpage@example.org']);
    const link = `${gateway.url}/u/${signRecipientToken(services.secret, Number(rows[0]!.id))}`;
    const call = async () => {
      const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      return { status: res.status, text: await res.text() };
    };
    await whileDiskFull(
      'suppressions',
      call,
      (a) => {
        assert.equal(a.status, 503, a.text);
        assert.deepEqual(JSON.parse(a.text), { detail: NO_SPACE });
        notInternal(a.text);
      },
      (a) => {
        assert.equal(a.status, 200, a.text);
      },
    );
  });

  describe('subscribing an address', () => {
    let listId: number;
    let slug: string;
    before(async () => {
      slug = 'disk-news';
      listId = await services.core.lists.createWithSlug(ctx, { slug, name: 'Disk news' });
    });

    it('mailkit JSON adduser: error_status 1 and the reason, in an HTTP 200', async () => {
      const call = () =>
        http('POST', '/json.fcgi', {
          auth: '',
          json: {
            function: 'mailkit.mailinglist.adduser',
            id: String(key.id),
            md5: key.secret,
            parameters: { ID_user_list: String(listId), personal: { email: 'full3@example.org' } },
          },
        });
      await whileDiskFull(
        'subscribers',
        call,
        (a) => {
          assert.equal(a.status, 200, a.text);
          assert.deepEqual(a.body, { error_status: 1, error: NO_SPACE });
          notInternal(a.text);
        },
        (a) => {
          assert.equal((a.body as { error_status: number }).error_status, 0, a.text);
        },
      );
    });

    it('mailkit XML-RPC adduser (Python xmlrpc.client): the reason as the answer, as Mailkit answers errors', async () => {
      const url = `${gateway.url}/rpc.fcgi`;
      const call = () =>
        pythonXmlRpc(url, 'mailkit.mailinglist.adduser', [
          String(key.id),
          key.secret,
          String(listId),
          'FALSE',
          { email: 'full4@example.org' },
          { '': '' },
          { '': '' },
        ]);
      await whileDiskFull(
        'subscribers',
        call,
        (a) => {
          assert.deepEqual(a, { result: NO_SPACE });
        },
        (a) => {
          assert.equal(typeof (a.result as { data?: unknown }).data, 'number', JSON.stringify(a));
        },
      );
    });

    it('sender PUT subscription: HTTP 503, result.status ERROR and the reason', async () => {
      const call = () => http('PUT', `/api/0/${key.account}/maillist/${slug}/subscription?email=full5%40example.org`, { auth: basic(key.secret, '') });
      await whileDiskFull(
        'subscribers',
        call,
        (a) => {
          assert.equal(a.status, 503, a.text);
          assert.deepEqual(a.body, { result: { status: 'ERROR', message: NO_SPACE } });
          notInternal(a.text);
        },
        (a) => {
          assert.equal(a.status, 200, a.text);
        },
      );
    });

    it('emailicious subscribe: HTTP 503 with DRF\'s {"detail"} saying why', async () => {
      const call = () =>
        http('POST', `/api/v1/lists/${listId}/subscribers`, { auth: basic('me@example.org', key.secret), json: { email: 'full6@example.org' } });
      await whileDiskFull(
        'subscribers',
        call,
        (a) => {
          assert.equal(a.status, 503, a.text);
          assert.deepEqual(a.body, { detail: `${NO_SPACE}.` });
          notInternal(a.text);
        },
        (a) => {
          assert.equal(a.status, 201, a.text);
        },
      );
    });
  });
});

describe('every resource and shutdown condition of Postgres is "service unavailable", saying why', () => {
  const cases: [condition: string, sqlState: string, why: string][] = [
    ['out_of_memory', '53200 out_of_memory', 'the database is out of memory'],
    ['too_many_connections', '53300 too_many_connections', 'the database has too many connections'],
    ['configuration_limit_exceeded', '53400 configuration_limit_exceeded', 'the database reached a configured limit'],
    ['insufficient_resources', '53000 insufficient_resources', 'the database reached a configured limit'],
    ['admin_shutdown', '57P01 admin_shutdown', 'the database is restarting'],
    ['crash_shutdown', '57P02 crash_shutdown', 'the database is restarting'],
    ['cannot_connect_now', '57P03 cannot_connect_now', 'the database is restarting'],
    ['connection_failure', '08006', 'the database cannot be reached'],
  ];
  for (const [condition, sqlState, why] of cases)
    it(`${condition}: JSON-RPC add_recipients is HTTP 503 "${why}", the log names ${sqlState}, nothing stored`, async () => {
      const mailing = await newMailing();
      const cure = await diskFullOn('recipients', condition, `refused: ${condition}`);
      const before = await snapshot();
      const from = logged.length;
      try {
        const a = await http('POST', '/jsonrpc', {
          auth: basic('admin', key.secret),
          json: { jsonrpc: '2.0', id: 1, method: 'add_recipients', params: [mailing, [{ email: 'room@example.org' }, { email: 'full@example.org' }]] },
        });
        assert.equal(a.status, 503, a.text);
        assert.deepEqual(a.body, { jsonrpc: '2.0', id: 1, error: { code: 503, message: `Service unavailable: ${why}; try again later` } });
      } finally {
        await cure();
      }
      assert.deepEqual(changedTables(before, await snapshot()), [], 'nothing stored');
      const lines = logged.slice(from).filter((l) => l.level >= 40);
      assert.deepEqual(
        lines.map((l) => l.sqlState),
        [sqlState],
      );
      assert.match(lines[0]!.msg, new RegExp(`SQLSTATE ${sqlState}: refused: ${condition}\\)$`));
    });
});
