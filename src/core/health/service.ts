/**
 * Is this installation able to do its work, as `/healthz` says: the database answers, every migration this
 * code ships is applied, a send worker is alive (heartbeats fresh in `workers`), and the relay answers (as the
 * live workers last found it: their heartbeats carry it; a worker marks a relay down when a connection to it
 * fails and up when a probe gets an answer, so a relay that went away while nothing was sent shows up at the
 * next send). One statement per check, nothing cached: a probe sees the state of the moment.
 */
import type { Store } from '../../db/store.js';

export type CheckState = 'ok' | 'down' | 'unknown';

export interface HealthReport {
  ok: boolean;
  database: CheckState;
  migrations: CheckState;
  workers: CheckState;
  /** Workers heard from within the stale limit; null when the database did not say. */
  workersAlive: number | null;
  relay: CheckState;
  /** Why it is not ok, one phrase per failed check (no address, key or host in them: /healthz is public). */
  reasons: string[];
}

/** A database that does not answer within this is down for /healthz (a probe must not hang on it). */
const DATABASE_WAIT_MS = 5_000;

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error('no answer')), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function healthService(deps: { store: Store; staleSeconds: number }) {
  return {
    async check(): Promise<HealthReport> {
      let s;
      try {
        s = await within(DATABASE_WAIT_MS, deps.store.health.check(deps.staleSeconds));
      } catch {
        return {
          ok: false,
          database: 'down',
          migrations: 'unknown',
          workers: 'unknown',
          workersAlive: null,
          relay: 'unknown',
          reasons: ['database unreachable'],
        };
      }
      const reasons: string[] = [];
      const migrations: CheckState = s.pendingMigrations.length ? 'down' : 'ok';
      if (s.pendingMigrations.length) reasons.push(`migrations not applied: ${s.pendingMigrations.join(', ')}`);
      const w = s.workers;
      if (!w) return { ok: false, database: 'ok', migrations, workers: 'unknown', workersAlive: null, relay: 'unknown', reasons };
      const workers: CheckState = w.alive > 0 ? 'ok' : 'down';
      if (!w.alive) reasons.push(`no send worker alive (none heard from within ${deps.staleSeconds} s)`);
      const relay: CheckState = w.relayDown > 0 ? 'down' : w.relayUp > 0 ? 'ok' : 'unknown';
      if (w.relayDown) reasons.push(`relay unreachable from ${w.relayDown} of ${w.alive} workers`);
      return { ok: !reasons.length, database: 'ok', migrations, workers, workersAlive: w.alive, relay, reasons };
    },
  };
}
export type HealthService = ReturnType<typeof healthService>;
