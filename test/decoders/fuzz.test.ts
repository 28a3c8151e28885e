/**
 * The decoders' property-based fuzz (bench/fuzz.ts) with a small fixed budget and a fixed seed, so that a run
 * of `npm test` is the same every time (FUZZ_SEED overrides the seed, FUZZ_RUNS the budget); the bench runs
 * the same properties far longer with a new seed each time.
 */
import { after, before, describe, it } from 'node:test';
import { fuzzProperties, runFuzz } from '../../bench/fuzz.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
  // Sender's fuzzed subscriptions go to a list that exists.
  const auth = `Basic ${Buffer.from(`${gw.key.secret}:`).toString('base64')}`;
  await fetch(`${gw.url}/api/0/${gw.key.account}/maillist/fuzz`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: '{}',
  });
});
after(async () => gw?.stop());

describe('decoders: property-based fuzz', () => {
  // Built when the tests run: the gateway exists by then.
  it('every property holds', async () => {
    const props = fuzzProperties({ url: gw.url, key: gw.key });
    const failures: string[] = [];
    for (const p of props) {
      try {
        await runFuzz([p], { runs: RUNS, seed: SEED });
      } catch (e) {
        failures.push(`${p.name}: ${(e as Error).message}`);
      }
    }
    if (failures.length) throw new Error(failures.join('\n\n'));
  });
});
