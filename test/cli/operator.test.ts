/**
 * The commands that show an operator what is happening, each run as `mailgate ...` in its own process against
 * a real database: lists, mailings of every dialect and their progress (a real send through a real SMTP relay
 * on 127.0.0.1, followed by `mailings watch` to the end), the configuration in effect, every subcommand's
 * description. And the first key of a first start: on the terminal (stdout), never in the logs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/db/embedded.js';
import { gate } from '../support/gate.js';
import { people, setup, type Harness } from '../support/harness.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/mailgate.js');
let h: Harness;
let tmp: string;

before(async () => {
  // One recipient per claim and one SMTP connection: each message's outcome is written on its own, so the
  // progress moves one recipient at a time as the gate lets messages through.
  h = await setup({ SEND_BATCH_SIZE: '1', SMTP_MAX_CONNECTIONS: '1' });
  await h.startWorker();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-operator-'));
});
after(async () => {
  await h?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** The environment of a command: this file's database only (nothing of the caller's Mailgate variables). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...extra };
  for (const name of ['DATA_DIR', 'SMTP_URL', 'PORT', 'PUBLIC_URL', 'TESTING_SMTP_URL']) if (!(name in extra)) delete env[name];
  return env;
}

async function mailgate(args: string[], extra: Record<string, string> = {}) {
  return await runProcess(process.execPath, [bin, ...args], {
    env: cleanEnv({ DATABASE_URL: h.db.url, ...extra }) as Record<string, string>,
    timeoutMs: 60_000,
  });
}

/** A table's lines split into cells (two spaces or more between columns). */
const cells = (out: string) =>
  out
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/ {2,}/));

describe('cli: lists', () => {
  it('create, list (a table with a header row, or JSON), import into the new list, delete', async () => {
    const made = await mailgate(['lists', 'create', 'Weekly news', '--account', 'acme', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const list = JSON.parse(made.stdout) as { id: number; slug: string; name: string };
    assert.deepEqual([list.slug, list.name], ['weekly-news', 'Weekly news']);
    const withSlug = await mailgate(['lists', 'create', 'Club', '--slug', 'club', '--account', 'acme']);
    assert.equal(withSlug.code, 0, withSlug.stderr);
    assert.match(withSlug.stdout, /^list \d+ created: Club \(slug club\)\n$/);
    const twice = await mailgate(['lists', 'create', 'Club', '--account', 'acme']);
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr.trim().split('\n').length, 1);

    const csv = path.join(tmp, 'club.csv');
    await writeFile(csv, 'email,name\nann@example.org,Ann\nbob@example.org,Bob\n');
    const imported = await mailgate(['import', 'club', csv, '--account', 'acme', '--json']);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal((JSON.parse(imported.stdout) as { inserted: number }).inserted, 2);

    const table = cells((await mailgate(['lists', 'list', '--account', 'acme'])).stdout);
    assert.deepEqual(table[0], ['ID', 'SLUG', 'SUBSCRIBERS', 'CREATED', 'NAME']);
    assert.deepEqual(
      table.slice(1).map((r) => [r[1], r[2], r[4]]),
      [
        ['weekly-news', '0', 'Weekly news'],
        ['club', '2', 'Club'],
      ],
    );
    const json = JSON.parse((await mailgate(['lists', 'list', '--account', 'acme', '--json'])).stdout) as { id: number; slug: string; subscribers: number }[];
    assert.deepEqual(
      json.map((l) => [l.slug, l.subscribers]),
      [
        ['weekly-news', 0],
        ['club', 2],
      ],
    );

    const deleted = await mailgate(['lists', 'delete', 'club', '--account', 'acme']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const byId = await mailgate(['lists', 'delete', String(list.id), '--account', 'acme']);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal((await mailgate(['lists', 'list', '--account', 'acme'])).stdout, '(no lists)\n');
    const gone = await mailgate(['lists', 'delete', 'club', '--account', 'acme']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^error: list club not found\n$/);
  });
});

describe('cli: mailings', () => {
  it('list and show mailings of every dialect, each with the id its dialect shows', async () => {
    const cloud = await h.mailing(people(3, 'cm'));
    const kit = await h.core.mailings.create(h.ctx, { dialect: 'mailkit', fromEmail: 'kit@example.org', subject: 'Kit news', html: '<p>x</p>' });
    const club = await h.core.lists.create(h.ctx, { name: 'Newsletter readers' });
    const news = await h.core.newsletters.create(h.ctx, {
      dialect: 'emailicious',
      listId: club,
      name: 'December',
      variants: [{ fromEmail: 'news@example.org', subject: 'Winter', text: 'Hello', deliveries: [] }],
    });
    const html = path.join(tmp, 'campaign.html');
    await writeFile(html, '<p>Your order</p>');
    const campaign = await mailgate([
      'campaigns',
      'create',
      'order-shipped',
      '--account',
      'acme',
      '--from',
      'shop@example.org',
      '--subject',
      'Shipped',
      '--html-file',
      html,
    ]);
    assert.equal(campaign.code, 0, campaign.stderr);

    const table = cells((await mailgate(['mailings', 'list', '--account', 'acme'])).stdout);
    assert.deepEqual(table[0], ['ID', 'DIALECT', 'STATUS', 'SENT', 'PENDING', 'DEFERRED', 'FAILED', 'NAME / SUBJECT']);
    const rows = new Map(table.slice(1).map((r) => [r[0], r]));
    assert.deepEqual(rows.get(String(cloud)), [String(cloud), 'cloudmailing', 'filling', '0', '3', '0', '0', 'Hello']);
    assert.deepEqual(rows.get(String(kit)), [String(kit), 'mailkit', 'filling', '0', '0', '0', '0', 'Kit news']);
    assert.deepEqual(
      rows.get(String(news)),
      [String(news), 'emailicious', 'no delivery', '0', '0', '0', '0', 'December / Winter'],
      'a list mailing without a delivery yet',
    );
    assert.deepEqual(rows.get('order-shipped'), ['order-shipped', 'sender', 'filling', '0', '0', '0', '0', 'order-shipped / Shipped']);

    const json = JSON.parse((await mailgate(['mailings', 'list', '--account', 'acme', '--json'])).stdout) as {
      id: number;
      dialectId: string;
      dialect: string;
      recipients: number;
      pending: number;
    }[];
    assert.deepEqual(
      json.filter((m) => m.id === cloud).map((m) => [m.dialectId, m.dialect, m.recipients, m.pending]),
      [[String(cloud), 'cloudmailing', 3, 3]],
    );

    const shown = await mailgate(['mailings', 'show', 'order-shipped', '--account', 'acme']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^id {9}order-shipped\ndialect {4}sender\n/);
    assert.match(shown.stdout, /\nprogress {3}100%\n$/, 'no recipients: nothing left to send');
    const byId = JSON.parse((await mailgate(['mailings', 'show', String(cloud), '--account', 'acme', '--json'])).stdout) as { status: string; pending: number };
    assert.deepEqual([byId.status, byId.pending], ['filling', 3]);
    const unknown = await mailgate(['mailings', 'show', '999999', '--account', 'acme']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'error: mailing 999999 not found\n');
  });

  it('watch follows a real send to 100 % and exits 0 once the mailing has finished (plain lines without a terminal)', async () => {
    const relay = gate(h.smtp);
    const id = await h.mailing(people(4, 'watch'));
    await h.core.mailings.start(h.ctx, id);
    const child = spawn(process.execPath, [bin, 'mailings', 'watch', String(id), '--account', 'acme', '--every', '100'], {
      env: cleanEnv({ DATABASE_URL: h.db.url }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      // Two messages through; watch prints the half-way line (the event), then the rest goes.
      for (let i = 0; i < 2; i++) {
        await relay.waitHeld();
        await relay.release();
      }
      await waitFor('watch printed 50 %', () => out.includes(`mailing ${id}: 50% (2/4) sent 2, pending 2`));
      await relay.open();
      assert.equal(await exited, 0, err);
    } finally {
      await relay.open();
      child.kill();
    }
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.at(-1), `mailing ${id}: 100% (4/4) sent 4, pending 0, deferred 0, failed 0; finished`);
    const percents = lines.map((l) => Number(/: (\d+)%/.exec(l)![1]));
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => a - b),
      'progress only moves forward',
    );
    assert.equal(new Set(lines).size, lines.length, 'a line per change, never the same twice in a row');
    assert.equal(err, '');
  });
});

describe('cli: mailings watch on a terminal', () => {
  it('draws a progress bar and ends with the summary line once the mailing has finished', async () => {
    const id = await h.mailing(people(2, 'tty'));
    await h.core.mailings.start(h.ctx, id);
    await waitFor(`mailing ${id} finished`, async () => (await h.mailingStatus(id)) === 'finished');
    // script(1) runs the command on a pseudo-terminal: stdout is a TTY there.
    const command = [process.execPath, bin, 'mailings', 'watch', String(id), '--account', 'acme'].map((a) => `'${a}'`).join(' ');
    const r = await runProcess('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      env: cleanEnv({ DATABASE_URL: h.db.url }) as Record<string, string>,
    });
    assert.equal(r.code, 0, r.stderr);
    // Without the terminal's control sequences (ESC [ ... letter).
    const screen = r.stdout
      .split(String.fromCharCode(27))
      .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;?]*[A-Za-z]/, '')))
      .join('');
    assert.match(screen, /[█░]+ 100% \| 2\/2 \| sent 2, pending 0, deferred 0, failed 0 \| finished/);
    assert.match(screen, new RegExp(`mailing ${id}: 100% \\(2/2\\) sent 2, pending 0, deferred 0, failed 0; finished\\s*$`));
  });
});

describe('cli: config', () => {
  it('shows the values in effect, where each comes from, passwords masked', async () => {
    const r = await mailgate(['config'], { SMTP_URL: 'smtp://mailer:s3cret@relay.example.org:587,smtps://relay2.example.org', PORT: '8080' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('s3cret'), 'no password shown');
    const password = new URL(h.db.url).password;
    assert.ok(!r.stdout.includes(password), 'the database password is not shown');
    const table = new Map(cells(r.stdout).map((row) => [row[0], row.slice(1)]));
    assert.deepEqual(table.get('VARIABLE'), ['SOURCE', 'VALUE']);
    assert.deepEqual(table.get('SMTP_URL'), ['environment', 'smtp://mailer:*****@relay.example.org:587,smtps://relay2.example.org']);
    assert.deepEqual(table.get('PORT'), ['environment', '8080']);
    assert.deepEqual(table.get('PUBLIC_URL'), ['derived', 'http://localhost:8080']);
    assert.deepEqual(table.get('SEND_LANES'), ['default', '2']);
    assert.deepEqual(table.get('TLS_CERT_FILE'), ['unset']);
    const json = JSON.parse((await mailgate(['config', '--json'])).stdout) as { name: string; value: string; source: string }[];
    assert.equal(json.find((v) => v.name === 'DATABASE_URL')?.value, h.db.url.replace(`:${password}@`, ':*****@'));
  });

  it('refuses an invalid environment as serve does: one line on stderr, exit code 1', async () => {
    const bad = { PORT: 'eighty', SEND_LANES: '0' };
    const config = await mailgate(['config'], bad);
    assert.equal(config.code, 1);
    assert.equal(config.stdout, '');
    assert.match(config.stderr, /^error: invalid configuration: PORT: .*; SEND_LANES: .*\n$/);
    const serve = await mailgate(['serve'], bad);
    assert.equal(serve.code, 1);
    assert.equal(serve.stderr, config.stderr, 'the same line as serve');
  });
});

describe('cli: help', () => {
  it('every command and subcommand has a description', async () => {
    const commandsOf = (help: string) => {
      const section = help.split('\nCommands:\n')[1] ?? '';
      // An entry starts two spaces in; its description follows after two spaces or more on the same line.
      return section
        .split('\n')
        .filter((l) => /^ {2}\S/.test(l))
        .map((l) => ({ name: l.trim().split(/\s/)[0]!, described: / {2,}\S/.test(l.trim()) }));
    };
    const top = commandsOf((await mailgate(['--help'])).stdout);
    const nouns = top.map((c) => c.name).filter((n) => n !== 'help');
    for (const n of ['lists', 'mailings', 'config', 'backup', 'restore']) assert.ok(nouns.includes(n), n);
    const undescribed = top.filter((c) => !c.described).map((c) => c.name);
    for (const noun of nouns) {
      const sub = commandsOf((await mailgate([noun, '--help'])).stdout);
      undescribed.push(...sub.filter((c) => !c.described).map((c) => `${noun} ${c.name}`));
    }
    assert.deepEqual(undescribed, []);
  });
});

describe('cli: the first start', () => {
  it('prints the first API key on stdout only: not one log line carries it, even at LOG_LEVEL=trace', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-firstkey-'));
    const env = cleanEnv({ DATA_DIR: dataDir, PORT: String(await freePort()), BOUNCE_SMTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace' });
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [bin, 'serve', '--no-worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      await waitFor('the first key on stdout', () => /First API key[^\n]*\n {2}\S+\n[\s\S]*more keys: /.test(out) || child.exitCode !== null, 90_000);
      const secret = /First API key[^\n]*\n {2}(\S+)/.exec(out)?.[1];
      assert.ok(secret, `no key in: ${out}\n${err}`);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.ok(err.length > 0, 'the logs were written (stderr, LOG_LEVEL=trace)');
      assert.ok(!err.includes(secret), 'the key is in no log line');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
