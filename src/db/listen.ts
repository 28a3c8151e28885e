/**
 * LISTEN on one channel over a connection of its own, for what a process caches of the database.
 *
 * Invariant: `generation()` changes at every notification, every loss of the connection and every new
 * LISTEN, so an entry a cache stored under an older generation is stale. While `listening()` is false (not
 * connected yet, or lost and reconnecting) a notification may be missed: nothing may be served from a cache
 * then. The connection comes back by itself (after 250 ms, doubling, at most every 5 s) until close().
 */
import pg from 'pg';

export interface ChangeFeed {
  listening(): boolean;
  generation(): number;
  close(): Promise<void>;
}

export type ChangeEvent = 'listening' | 'notification' | 'lost';

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

export function listenForChanges(
  connectionString: string,
  channel: string,
  onChange: (event: ChangeEvent, detail?: string) => void = () => undefined,
): ChangeFeed {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let generation = 0;
  let listening = false;
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let delay = RETRY_MIN_MS;

  const again = () => {
    if (closed) return;
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
    delay = Math.min(RETRY_MAX_MS, delay * 2);
  };

  const connect = async () => {
    const c = new pg.Client({ connectionString });
    client = c;
    let lost = false;
    const lose = (e?: Error) => {
      if (lost) return;
      lost = true;
      const was = listening;
      listening = false;
      generation++;
      if (client === c) client = null;
      void c.end().catch(() => undefined);
      if (was) onChange('lost', e?.message);
      again();
    };
    c.on('error', lose);
    c.on('end', () => lose());
    c.on('notification', (n) => {
      if (n.channel !== channel || lost) return;
      generation++;
      onChange('notification', n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (e) {
      lose(e as Error);
      return;
    }
    if (lost || closed) return;
    // What was read before this LISTEN may have missed a notification: a new generation.
    generation++;
    listening = true;
    delay = RETRY_MIN_MS;
    onChange('listening');
  };

  void connect();
  return {
    listening: () => listening,
    generation: () => generation,
    async close() {
      closed = true;
      listening = false;
      generation++;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
