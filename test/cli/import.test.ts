/**
 * `mailgate import <list> <file.csv>` as an operator runs it, each in its own process against a real
 * database: RFC 4180 files (quotes, delimiters and line breaks inside fields, a BOM, `;` discovered), bad
 * records rejected with their line, a re-run that changes nothing, `--disable-others` across revisions, an
 * import killed with SIGKILL in the middle and resumed from its last committed batch.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../support/process.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let dir: string;

before(async () => {
  gw = await startTestGateway();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-import-'));
});
after(async () => {
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' });
const mailgate = (...args: string[]) => runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env: env(), timeoutMs: 120_000 });
const ctx = () => gw.core.accounts.operatorContext('acme');

async function members(listId: number): Promise<Map<string, { params: Record<string, unknown>; enabled: boolean; rev: number }>> {
  const { rows } = await gw.pool.query('SELECT email, params, enabled, rev::int FROM subscribers WHERE list_id = $1 ORDER BY email', [listId]);
  return new Map(rows.map((r) => [r.email as string, { params: r.params, enabled: r.enabled, rev: r.rev }]));
}

describe('cli: mailgate import', () => {
  let listId: number;

  it('imports an RFC 4180 file: quoted fields, a BOM, bad records rejected with their line, the last of a repeated address wins', async () => {
    listId = await gw.core.lists.createWithSlug(await ctx(), { slug: 'news' });
    const csv = [
      '\uFEFFEmail,name,city',
      'ann@example.org,Ann,Paris',
      '"bob@Example.ORG","Doe, ""Bobby""',
      'Jr",Lyon',
      'not-an-address,Nobody,Nowhere',
      'cid@example.org,Cid',
      'dee@example.org,,Rome',
      '',
      'ann@example.org,Ann B.,Nice',
    ].join('\r\n');
    await writeFile(path.join(dir, 'a.csv'), csv);
    const r = await mailgate('import', 'news', path.join(dir, 'a.csv'), '--account', 'acme', '--batch', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^list ${listId}: 6 records \\(rev 1\\): 3 new, 1 updated, 2 rejected in [\\d.]+ s$`, 'm'));
    assert.match(r.stdout, /^ {2}line 5: invalid email address: "not-an-address"$/m);
    assert.match(r.stdout, /^ {2}line 6: 2 fields where the header has 3$/m);
    assert.match(r.stderr, /100% \| 6 records/, 'the progress bar ends full');
    const m = await members(listId);
    assert.deepEqual([...m.keys()].sort(), ['ann@example.org', 'bob@Example.ORG', 'dee@example.org']);
    assert.deepEqual(m.get('ann@example.org')!.params, { name: 'Ann B.', city: 'Nice' });
    assert.deepEqual(m.get('bob@Example.ORG')!.params, { name: 'Doe, "Bobby"\r\nJr', city: 'Lyon' });
    assert.deepEqual(m.get('dee@example.org')!.params, { city: 'Rome' }, 'an empty cell is left out');
  });

  it('a re-run of the same file changes nothing but the revision; --json reports it', async () => {
    const before = await members(listId);
    const r = await mailgate('import', String(listId), path.join(dir, 'a.csv'), '--account', 'acme', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.records, out.inserted, out.updated, out.rejected, out.rev, out.resumedAt], [6, 0, 3, 2, 2, 0]);
    const now = await members(listId);
    assert.deepEqual(
      [...now].map(([k, v]) => [k, v.params, v.enabled]),
      [...before].map(([k, v]) => [k, v.params, v.enabled]),
    );
  });

  it('a ;-separated file (discovered) with --disable-others leaves exactly its addresses enabled, as bulk disable_others does', async () => {
    await writeFile(path.join(dir, 'b.csv'), 'name;email\nEve;eve@example.org\nAnn;ann@example.org\n');
    const r = await mailgate('import', 'news', path.join(dir, 'b.csv'), '--account', 'acme', '--disable-others');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 records \(rev 3\): 1 new, 1 updated, 0 rejected, 2 others disabled/);
    const m = await members(listId);
    assert.deepEqual(
      [...m]
        .filter(([, v]) => v.enabled)
        .map(([k]) => k)
        .sort(),
      ['ann@example.org', 'eve@example.org'],
    );
    assert.equal(m.get('ann@example.org')!.params.name, 'Ann');
    assert.equal(m.get('ann@example.org')!.params.city, 'Nice', 'params merge');
  });

  it('refuses, in one line and changing nothing: no email column, an empty file, a broken quote, an unknown list, a missing file, a second import at once', async () => {
    await writeFile(path.join(dir, 'noemail.csv'), 'name,city\nAnn,Paris\n');
    await writeFile(path.join(dir, 'empty.csv'), '');
    await writeFile(path.join(dir, 'badquote.csv'), 'email,name\n"zed@example.org"x,Zed\n');
    const cases: [string[], RegExp][] = [
      [['news', path.join(dir, 'noemail.csv')], /the header row has no email column \(it has "name", "city"\)/],
      [['news', path.join(dir, 'empty.csv')], /the file is empty/],
      [['news', path.join(dir, 'badquote.csv')], /Invalid Closing Quote: got "x" at line 2/],
      [['nope', path.join(dir, 'b.csv')], /list nope not found/],
      [['news', path.join(dir, 'missing.csv')], /missing\.csv: no such file/],
    ];
    const before = await members(listId);
    for (const [args, message] of cases) {
      const r = await mailgate('import', ...args, '--account', 'acme');
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, message);
    }
    const holder = await gw.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`import:list:${listId}`]);
      const r = await mailgate('import', 'news', path.join(dir, 'a.csv'), '--account', 'acme');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /another import into list \d+ is running/);
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
    }
    assert.deepEqual(await members(listId), before);
  });

  it('killed with SIGKILL in the middle, it resumes after its last committed batch: every record once, one revision', async () => {
    // Eight batches of 5,000 are still to come when it is killed after 20,000: the point is the kill mid-way and
    // the resume, not the size.
    const N = 60_000;
    const big = ['email,name,n'];
    for (let i = 0; i < N; i++) big.push(`user${i}@big${i % 50}.example,"User ${i}",${i}`);
    await writeFile(path.join(dir, 'big.csv'), big.join('\n') + '\n');
    const bigList = await gw.core.lists.createWithSlug(await ctx(), { slug: 'big' });

    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/mailgate.js'), 'import', 'big', path.join(dir, 'big.csv'), '--account', 'acme', '--batch', '5000'],
      {
        env: { ...process.env, ...env() },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => child.on('exit', r));
    const progress = async () => (await gw.pool.query('SELECT records_done::int AS n, status FROM imports WHERE list_id = $1', [bigList])).rows[0];
    await waitFor('the first batches committed', async () => ((await progress())?.n ?? 0) >= 20_000, 60_000);
    child.kill('SIGKILL');
    await exited;
    const killed = await progress();
    assert.equal(killed.status, 'running');
    assert.ok(killed.n < N, `killed before the end (${killed.n})`);
    const committed = (await gw.pool.query('SELECT count(*)::int AS n FROM subscribers WHERE list_id = $1', [bigList])).rows[0].n;
    assert.equal(committed, killed.n, 'each batch commits with its checkpoint');

    const r = await mailgate('import', 'big', path.join(dir, 'big.csv'), '--account', 'acme', '--batch', '5000', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`resuming import \\d+ \\(rev 1\\) after record ${killed.n}`));
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.records, out.inserted, out.updated, out.resumedAt, out.rev], [N, N, 0, killed.n, 1]);
    const { rows } = await gw.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT email_key)::int AS d, min(rev)::int AS lo, max(rev)::int AS hi,
              count(*) FILTER (WHERE params->>'n' = split_part(split_part(email, '@', 1), 'user', 2))::int AS ok
         FROM subscribers WHERE list_id = $1`,
      [bigList],
    );
    assert.deepEqual(rows[0], { n: N, d: N, lo: 1, hi: 1, ok: N });
    assert.equal((await progress()).status, 'done');

    // Deleting the list deletes its subscribers (a trigger: subscribers carry no foreign key, see the migration).
    await gw.core.lists.delete(await ctx(), bigList);
    assert.equal((await gw.pool.query('SELECT count(*)::int AS n FROM subscribers WHERE list_id = $1', [bigList])).rows[0].n, 0);
  });
});
