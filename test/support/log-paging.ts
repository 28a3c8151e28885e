/**
 * Following a raw log by id while writers are still committing, the two ways real clients page one: resume at
 * the last id + 1 (Mailkit's Java client), or at the last id and drop the repeated row (Keboola's extractor).
 * Both readers run until the writers are done and a short page has been read after that.
 *
 * The writers: four, each adding 1 to 3 rows per transaction after work of random length, so commits land
 * in any order; they stop at `target` rows, not after a time (as many pages to follow on any machine).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { withTransaction } from '../../src/db/pool.js';

type Page = (from: number, limit: number) => Promise<{ id: number | string }[]>;

export async function followWhileWritten(page: Page, writers: Promise<unknown>[], limit = 7): Promise<{ next: number[]; repeat: number[] }> {
  let done = false; // every writer has committed its last transaction
  const follow = async (style: 'next' | 'repeat') => {
    const seen: number[] = [];
    let from = 1;
    for (;;) {
      const finished = done; // read before the page: a page read after the end holds everything
      const ids = (await page(from, limit)).map((r) => Number(r.id));
      const repeated = style === 'repeat' && seen.length > 0 && ids[0] === seen[seen.length - 1];
      seen.push(...(repeated ? ids.slice(1) : ids));
      if (ids.length) from = style === 'next' ? ids[ids.length - 1]! + 1 : ids[ids.length - 1]!;
      if (ids.length < limit) {
        if (finished) return seen;
        await sleep(2);
      }
    }
  };
  const readers = Promise.all([follow('next'), follow('repeat')]);
  await Promise.all(writers);
  done = true;
  const [next, repeat] = await readers;
  return { next, repeat };
}

/** Four writers until `target` rows: `write(tx, n, writer, i)` adds n rows; resolves to how many were written. */
export function writeConcurrently(
  pool: pg.Pool,
  target: number,
  write: (tx: pg.PoolClient, n: number, writer: number, i: number) => Promise<unknown>,
): { writers: Promise<void>[]; written: () => number } {
  let written = 0;
  const writer = async (w: number) => {
    for (let i = 0; written < target; i++) {
      await withTransaction(pool, async (tx) => {
        // Work before the ids are drawn, of random length: commits land in any order.
        await tx.query('SELECT pg_sleep($1)', [Math.random() * 0.004]);
        const n = 1 + (i % 3);
        await write(tx, n, w, i);
        written += n;
      });
    }
  };
  return { writers: [0, 1, 2, 3].map(writer), written: () => written };
}
