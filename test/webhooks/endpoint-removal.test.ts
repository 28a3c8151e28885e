/**
 * An endpoint removed while its job records a round of attempts: the removal locks the endpoint's row, then
 * deletes its messages; the job locks the endpoint first too (recordAttempts), so neither waits on the other
 * in the opposite order (they deadlocked under the bench: the job's foreign key check came after its
 * messages' update). The job finds the endpoint gone and records nothing, without an error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ worker: false });
});
after(async () => {
  await gw?.stop();
});

describe('an endpoint removed while its attempts are recorded', () => {
  it('the recording waits for the removal, then records nothing and fails nothing', async () => {
    const { accountId } = await gw.core.accounts.operatorContext('acme');
    const store = gw.services.store.webhooks;
    const endpoint = await store.createEndpoint({
      accountId,
      url: 'http://127.0.0.1:9/hook',
      kinds: ['delivered'],
      secret: 'whsec_dGVzdA==',
      description: null,
    });
    const { rows } = await gw.pool.query<{ id: number }>(
      `INSERT INTO webhook_messages (endpoint_id, account_id, kind, occurred_at) VALUES ($1, $2, 'delivered', now()) RETURNING id`,
      [endpoint.id, accountId],
    );
    const remover = new pg.Client({ connectionString: gw.databaseUrl });
    await remover.connect();
    try {
      await remover.query('BEGIN');
      await remover.query('DELETE FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
      const recorded = store.recordAttempts(endpoint.id, [{ messageId: rows[0]!.id, ok: true, durationMs: 3, statusCode: 200, error: null, response: '' }], {
        scheduleSeconds: [5],
        disableAfterSeconds: 3600,
      });
      const removerPid = (await remover.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await waitFor('the recording to wait on the removal', async () => {
        const { rows: waiting } = await gw.pool.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, [removerPid]);
        return waiting.length > 0;
      });
      await remover.query('COMMIT');
      assert.equal(await recorded, undefined);
    } finally {
      await remover.end();
    }
    const left = await gw.pool.query(
      'SELECT (SELECT count(*)::int FROM webhook_attempts WHERE endpoint_id = $1) AS attempts, (SELECT count(*)::int FROM webhook_messages WHERE endpoint_id = $1) AS messages',
      [endpoint.id],
    );
    assert.deepEqual(left.rows[0], { attempts: 0, messages: 0 });
  });
});
