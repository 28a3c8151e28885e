/**
 * Where a scenario's time goes, when asked (never by default: profiling costs time of its own):
 * - BENCH_CPU_PROF=<dir>: a V8 CPU profile of this process (the gateway runs in it, beside the bench's own
 *   clients) around the scenario, written as <dir>/<scenario>.cpuprofile (open it in Chrome's DevTools), and
 *   the top self time by function and by module printed.
 * - BENCH_PG_STATS=1: Postgres starts with pg_stat_statements (track=all, so statements run by triggers and
 *   functions count apart); its counters are reset before the scenario and the top statements by total time
 *   printed after it (BENCH_PG_STATS=calls: the top 40 by calls instead).
 */
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/** The postmaster settings BENCH_PG_STATS needs (to pass to startEmbedded), else none. */
export const pgStatsSettings = (): Record<string, string> =>
  process.env.BENCH_PG_STATS ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.max': '2000' } : {};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The module a frame belongs to: the package under node_modules, the file under the repository, or V8's own. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const local = /\/(src|bench|test)\/(.*)$/.exec(url);
  return local ? `${local[1]}/${local[2]}` : url;
}

function top(self: Map<string, number>, total: number, n: number): string[] {
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `#   ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}

function summarize(p: Profile): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    total += us;
    const where = moduleOf(f.url, f.functionName);
    const name = `${f.functionName || '(anonymous)'} ${where}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    mod.set(where, (mod.get(where) ?? 0) + us);
  });
  return [
    `# cpu profile: ${(total / 1e6).toFixed(1)} s sampled; self time by function:`,
    ...top(fn, total, 25),
    '# self time by module:',
    ...top(mod, total, 15),
  ];
}

async function pgStats(dbUrl: string, f: (c: pg.Client) => Promise<void>) {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    await f(c);
  } finally {
    await c.end();
  }
}

/** Run `scenario`, profiled as the environment asks. */
export async function profiled<T>(name: string, dbUrl: string, scenario: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_CPU_PROF;
  const stats = Boolean(process.env.BENCH_PG_STATS);
  if (stats)
    await pgStats(dbUrl, async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await c.query('SELECT pg_stat_statements_reset()');
    });
  let session: Session | null = null;
  if (dir) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
  }
  const result = await scenario();
  if (session) {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    session.disconnect();
    await mkdir(dir!, { recursive: true });
    const file = path.join(dir!, `${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    console.log(`# ${name}: cpu profile in ${file}`);
    for (const l of summarize(profile)) console.log(l);
  }
  if (stats)
    await pgStats(dbUrl, async (c) => {
      const { rows } = await c.query<{ total_ms: number; calls: string; rows: string; mean_ms: number; query: string }>(
        `SELECT round(total_exec_time)::int AS total_ms, calls, rows, round(mean_exec_time::numeric, 3)::float AS mean_ms,
                regexp_replace(query, '\\s+', ' ', 'g') AS query
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY ${process.env.BENCH_PG_STATS === 'calls' ? 'calls' : 'total_exec_time'} DESC LIMIT ${process.env.BENCH_PG_STATS === 'calls' ? 40 : 15}`,
      );
      console.log(`# ${name}: pg_stat_statements, top by total time (ms total, calls, rows, ms mean, statement):`);
      for (const r of rows)
        console.log(
          `#   ${String(r.total_ms).padStart(7)}  ${String(r.calls).padStart(7)}  ${String(r.rows).padStart(9)}  ${String(r.mean_ms).padStart(8)}  ${r.query.slice(0, 220)}`,
        );
    });
  return result;
}
