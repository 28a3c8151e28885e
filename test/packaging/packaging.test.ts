/**
 * The packaging, checked as far as this machine can without a Docker daemon or a registry: compose.yaml parsed
 * as YAML and held to what it promises, the Dockerfile's instructions held to the repository (what it copies
 * exists and is not ignored, what it runs is a real command, what it exposes and mounts are the configuration's
 * defaults), its HEALTHCHECK command run for real against a gateway, and the systemd unit checked by
 * `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { VARIABLES } from '../../src/config.js';
import { freePort } from '../../src/db/embedded.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { runProcess } from '../support/process.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFile(path.join(root, file), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
async function dockerfile(): Promise<Instruction[]> {
  const text = (await read('Dockerfile')).replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The build stages: the instructions of each FROM, in order. */
function stages(all: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of all) {
    if (i.op === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

const envOf = (stage: Instruction[]) =>
  Object.fromEntries(stage.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ worker: true }); // /healthz is 200 only with a live worker, as in the image (`serve` runs one)
});
after(async () => {
  await gw?.stop();
});

describe('packaging: Dockerfile', () => {
  it('builds on Debian slim Node 20, runs the built code as a non-root user, DATA_DIR a volume', async () => {
    const all = await dockerfile();
    const [build, run] = stages(all);
    assert.ok(build && run, 'a build stage and a runtime stage');
    for (const s of [build, run]) assert.match(s[0]!.args, /^node:20-(bookworm|trixie)-slim\b/);
    const runEnv = envOf(run);
    const user = run.filter((i) => i.op === 'USER').at(-1)?.args;
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    assert.ok(run.findIndex((i) => i.op === 'USER') > run.findLastIndex((i) => i.op === 'RUN'), 'nothing runs as root after the switch');
    assert.match(run.find((i) => i.op === 'RUN')!.args, new RegExp(`useradd .*\\b${user}\\b`));
    assert.deepEqual(JSON.parse(run.find((i) => i.op === 'VOLUME')!.args), [runEnv.DATA_DIR]);
    assert.ok(runEnv.MAILGATE_SYSTEM_DIR?.startsWith(path.posix.dirname(runEnv.DATA_DIR!)), 'MAILGATE_SYSTEM_DIR is the user’s too');
    assert.deepEqual(
      run
        .find((i) => i.op === 'EXPOSE')!
        .args.split(/\s+/)
        .sort(),
      [runEnv.PORT, VARIABLES.BOUNCE_SMTP_PORT.default].sort(),
    );
    assert.equal(runEnv.PORT, VARIABLES.PORT.default);
    assert.match(build.find((i) => i.op === 'RUN')!.args, /npm ci\b.*&& npm prune --omit=dev/);
  });

  it('copies only what exists and is not ignored; the build stage makes what the runtime stage takes', async () => {
    const all = await dockerfile();
    const [build, run] = stages(all);
    const ignored = (await read('.dockerignore'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = build!.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const s of sources) {
      assert.ok(existsSync(path.join(root, s)), `${s} exists`);
      assert.ok(!ignored.includes(s), `${s} is not in .dockerignore`);
    }
    // `prepare` (run by npm ci) is the build: it reads what was copied before it.
    const pkg = JSON.parse(await read('package.json')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.prepare, 'npm run build');
    for (const config of ['tsconfig.build.json', 'migrations/tsconfig.json']) assert.ok(pkg.scripts.build!.includes(config.split('/').at(-1)!), config);
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'migrations'])
      assert.ok(sources.includes(needed), `${needed} reaches the build`);
    const taken = run!.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build')).flatMap((i) => i.args.split(/\s+/).slice(1, -1));
    const made = ['/app/dist', '/app/node_modules'];
    for (const t of taken) assert.ok(made.includes(t) || sources.some((s) => t === `/app/${s}`), `${t} comes from the build stage`);
    // What the running code reads: the build, the migrations (names from migrations/*.ts), package.json (version).
    for (const needed of ['/app/dist', '/app/node_modules', '/app/bin', '/app/migrations', '/app/package.json']) assert.ok(taken.includes(needed), needed);
  });

  it('runs a real command, and its HEALTHCHECK command answers 0 on a live gateway and 1 on a dead port', async () => {
    const all = await dockerfile();
    const run = stages(all)[1]!;
    const entry = JSON.parse(run.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const cmd = JSON.parse(run.find((i) => i.op === 'CMD')!.args) as string[];
    assert.deepEqual(entry.slice(0, 2), ['node', 'bin/mailgate.js']);
    assert.deepEqual(cmd, ['serve']);
    const help = await runProcess(process.execPath, [path.join(root, entry[1]!), ...cmd, '--help']);
    assert.equal(help.code, 0, help.stderr);

    const check = run.find((i) => i.op === 'HEALTHCHECK')!.args;
    assert.match(check, /--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD /);
    const argv = JSON.parse(check.slice(check.indexOf('CMD ') + 4)) as string[];
    assert.equal(argv[0], 'node');
    assert.match(argv.join(' '), /\/healthz/);
    const port = new URL(gw.url).port;
    const live = await runProcess(process.execPath, argv.slice(1), { env: { PORT: port } });
    assert.equal(live.code, 0, live.stderr);
    const dead = await runProcess(process.execPath, argv.slice(1), { env: { PORT: String(await freePort()) } });
    assert.equal(dead.code, 1);
  });
});

describe('packaging: compose.yaml', () => {
  it('runs Mailgate over DATABASE_URL against Postgres 18, a named volume each', async () => {
    const compose = parse(await read('compose.yaml')) as {
      services: Record<
        string,
        {
          image?: string;
          build?: string;
          environment?: Record<string, string>;
          volumes?: string[];
          depends_on?: Record<string, { condition: string }>;
          ports?: string[];
        }
      >;
      volumes: Record<string, unknown>;
    };
    const { postgres, mailgate } = compose.services;
    assert.ok(postgres && mailgate);
    assert.match(postgres.image!, /^postgres:18(\b|$)/);
    assert.equal(mailgate.build, '.');
    const url = new URL(mailgate.environment!.DATABASE_URL!.replace(/\$\{[^}]+\}/g, 'x'));
    assert.equal(url.protocol, 'postgres:');
    assert.equal(url.hostname, 'postgres', 'the postgres service');
    assert.equal(url.pathname, `/${postgres.environment!.POSTGRES_DB}`);
    assert.equal(url.username, postgres.environment!.POSTGRES_USER);
    assert.deepEqual(mailgate.depends_on, { postgres: { condition: 'service_healthy' } });
    const mounts = (s: { volumes?: string[] }) => (s.volumes ?? []).map((v) => v.split(':') as [string, string]);
    // Postgres 18's image: PGDATA is /var/lib/postgresql/18/docker, the volume one level up.
    assert.deepEqual(mounts(postgres), [['postgres-data', '/var/lib/postgresql']]);
    const dataDir = envOf(stages(await dockerfile())[1]!).DATA_DIR;
    assert.deepEqual(mounts(mailgate), [['mailgate-data', dataDir]]);
    assert.deepEqual(Object.keys(compose.volumes).sort(), ['mailgate-data', 'postgres-data']);
    assert.ok(mailgate.ports?.includes(`${VARIABLES.PORT.default}:${VARIABLES.PORT.default}`));
    for (const name of Object.keys(mailgate.environment!)) assert.ok(name in VARIABLES, `${name} is a Mailgate variable`);
  });
});

describe('packaging: systemd unit', () => {
  it('runs mailgate serve as an unprivileged user, and systemd-analyze verify accepts it', async () => {
    const unit = await read('packaging/mailgate.service');
    const keys = new Map<string, string[]>();
    for (const line of unit.split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(line.trim());
      if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
    }
    assert.deepEqual(keys.get('User'), ['mailgate']);
    assert.deepEqual(keys.get('KillMode'), ['mixed'], 'SIGTERM to Mailgate alone: it stops the embedded Postgres itself');
    const exec = keys.get('ExecStart')![0]!.split(' ');
    assert.equal(exec[1], '/opt/mailgate/bin/mailgate.js');
    assert.ok(existsSync(path.join(root, 'bin/mailgate.js')));
    const help = await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...exec.slice(2), '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const env of keys.get('Environment') ?? []) {
      const name = env.split('=')[0]!;
      assert.ok(name === 'NODE_ENV' || name in VARIABLES, name);
    }
    // Debian's systemd-analyze (on these machines and on CI): the unit as systemd itself reads it.
    const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
    assert.ok(analyze, 'systemd-analyze is installed');
    await promisify(execFile)(analyze, ['verify', path.join(root, 'packaging/mailgate.service')]);
  });
});

describe('packaging: several processes', () => {
  it('the README’s commands for HTTP nodes and workers exist', async () => {
    const readme = await read('README.md');
    const section = readme.slice(readme.indexOf('### Several processes, one Postgres'), readme.indexOf('### Backups'));
    for (const c of ['mailgate migrate', 'serve --no-worker', 'mailgate worker']) assert.ok(section.includes(c), c);
    const serve = await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve', '--help']);
    assert.match(serve.stdout, /--no-worker/);
    for (const c of ['worker', 'migrate']) assert.equal((await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), c, '--help'])).code, 0);
  });
});
