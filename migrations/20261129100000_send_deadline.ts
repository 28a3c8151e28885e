/**
 * A send's deadline, stated once: send_deadline(s) is when send `s` must end — the earlier of its
 * scheduled_end and max_duration_minutes after its actual start (started_at), NULL when it has neither (or has
 * not started and has no scheduled_end). The mailing manager's query and the send job (loadSend) both ask
 * it; src/core/mailings/lifecycle.ts states the rule in words.
 *
 * STABLE, not IMMUTABLE: timestamptz + interval is only stable. A plain SQL function, so the planner inlines it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION send_deadline(s sends) RETURNS timestamptz LANGUAGE sql STABLE AS $$
      SELECT least(s.scheduled_end,
                   CASE WHEN s.max_duration_minutes > 0 AND s.started_at IS NOT NULL
                        THEN s.started_at + make_interval(mins => s.max_duration_minutes) END)
    $$;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION send_deadline(sends)');
}
