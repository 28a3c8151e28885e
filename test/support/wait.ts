/** Polling helpers shared by every test (never a fixed sleep where a condition can be waited for). */
import { setTimeout as sleep } from 'node:timers/promises';

/** Poll until `check` holds (bounded); fails with `what` when it never does. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(everyMs);
  }
}
