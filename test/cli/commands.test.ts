/**
 * The operator's commands against a real database (DATABASE_URL): keys, suppressions, a list's confirmation
 * mailing. Each runs as `mailgate ...` in its own process, as an operator types it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../support/process.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;

before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.stop();
});

async function mailgate(...args: string[]) {
  return await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], {
    env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' },
    timeoutMs: 60_000,
  });
}
const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' });

describe('cli: operator commands', () => {
  it('suppressions add, list, lift', async () => {
    const added = await mailgate('suppressions', 'add', 'Kim@Example.org', '--account', 'acme');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /suppressed: Kim@Example\.org/);
    assert.match((await mailgate('suppressions', 'add', 'Kim@Example.org', '--account', 'acme')).stdout, /already suppressed/);
    const listed = await mailgate('suppressions', 'list', '--account', 'acme', '--json');
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { email: string; reason: string }[]).map((r) => [r.email, r.reason]),
      [['Kim@Example.org', 'manual']],
    );
    const lifted = await mailgate('suppressions', 'lift', 'kim@example.org', '--account', 'acme');
    assert.equal(lifted.code, 1, 'the local part is kept as given: kim is not Kim');
    assert.match(lifted.stderr, /^error: /);
    assert.equal((await mailgate('suppressions', 'lift', 'Kim@example.org', '--account', 'acme')).code, 0);
    assert.match((await mailgate('suppressions', 'list', '--account', 'acme')).stdout, /no suppressed address/);
    const bad = await mailgate('suppressions', 'list', '--account', 'acme', '--reason', 'bored');
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });

  it('operators create, list, password, delete: a password is made and shown once, never an argument', async () => {
    const created = await mailgate('operators', 'create', 'Kim', '--json');
    assert.equal(created.code, 0, created.stderr);
    const { login, password } = JSON.parse(created.stdout) as { login: string; password: string };
    assert.equal(login, 'Kim');
    assert.match(password, /^[A-Za-z0-9_-]{20}$/);
    assert.ok(await gw.core.operators.login('kim', password), 'the login is case-insensitive, the password works');
    const { rows } = await gw.pool.query<{ password_hash: string }>("SELECT password_hash FROM operators WHERE login = 'Kim'");
    assert.match(rows[0]!.password_hash, /^scrypt\$32768\$8\$3\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    assert.ok(!rows[0]!.password_hash.includes(password));

    const taken = await mailgate('operators', 'create', 'kim');
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^error: .*exists already/);
    assert.match((await mailgate('operators', 'list')).stdout, /^login\tcreated\tpassword changed\nKim\t/);

    const session = (await gw.core.operators.login('Kim', password))!;
    const changed = await mailgate('operators', 'password', 'Kim', '--json');
    assert.equal(changed.code, 0, changed.stderr);
    const fresh = (JSON.parse(changed.stdout) as { password: string }).password;
    assert.equal(await gw.core.operators.login('Kim', password), undefined, 'the old password no longer works');
    assert.equal(await gw.core.operators.session(session.sessionId), undefined, 'a new password ends the sessions');
    assert.ok(await gw.core.operators.login('Kim', fresh));

    assert.equal((await mailgate('operators', 'delete', 'Kim')).code, 0);
    assert.equal(await gw.core.operators.login('Kim', fresh), undefined);
    assert.equal((await mailgate('operators', 'delete', 'Kim')).code, 1);
    assert.equal((await mailgate('operators', 'create', 'no spaces allowed')).code, 1);
  });

  it("lists confirm-mailing chooses the account's and a list's confirmation mailing", async () => {
    const c = await ctx();
    const list = await gw.core.lists.create(c, { name: 'Club' });
    const mailing = await gw.core.mailings.create(c, {
      dialect: 'mailkit',
      fromEmail: 'club@example.org',
      subject: 'Confirm',
      html: '<a href="{{ subscribe_link }}">yes</a>',
    });
    const forAccount = await mailgate('lists', 'confirm-mailing', String(mailing), '--account', 'acme');
    assert.equal(forAccount.code, 0, forAccount.stderr);
    assert.equal((await gw.pool.query('SELECT confirm_mailing_id FROM accounts WHERE id = $1', [c.accountId])).rows[0].confirm_mailing_id, mailing);
    assert.equal((await mailgate('lists', 'confirm-mailing', String(mailing), '--account', 'acme', '--list', String(list))).code, 0);
    assert.equal((await gw.pool.query('SELECT confirm_mailing_id FROM lists WHERE id = $1', [list])).rows[0].confirm_mailing_id, mailing);
    assert.equal((await mailgate('lists', 'confirm-mailing', 'none', '--account', 'acme', '--list', String(list))).code, 0);
    assert.equal((await gw.pool.query('SELECT confirm_mailing_id FROM lists WHERE id = $1', [list])).rows[0].confirm_mailing_id, null);
    const unknown = await mailgate('lists', 'confirm-mailing', '999999', '--account', 'acme');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: .*999999/);
    const noList = await mailgate('lists', 'confirm-mailing', String(mailing), '--account', 'acme', '--list', '999999');
    assert.equal(noList.code, 1);
    assert.equal(
      (await gw.pool.query('SELECT confirm_mailing_id FROM accounts WHERE id = $1', [c.accountId])).rows[0].confirm_mailing_id,
      mailing,
      'a failed call changed nothing',
    );
  });
});
