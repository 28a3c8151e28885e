/**
 * Following a raw log by id while writers are still committing, the two ways real clients page one: resume at
 * the last id + 1 (Mailkit's Java client), or at the last id and drop the repeated row (Keboola's extractor).
 * Both readers run until the writers are done and a short page has been read after that.
 */
import { setTimeout as sleep } from 'node:timers/promises';

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
