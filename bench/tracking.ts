/**
 * `npm run bench -- tracking-report`: mailkit.report.campaign over a send with BENCH_TRACKING_EVENTS
 * (1,000,000) opens and clicks of BENCH_TRACKING_RECIPIENTS (100,000) recipients, a fifth of them judged a
 * machine's, over real HTTP (Mailkit JSON) as a client asks: p50 and p99 of the call. The events are written by
 * SQL in batches of 100,000 without the triggers, their rollups computed in one pass, then a tenth more through
 * the triggers (their rate printed: the rollups kept as for any writer, under the event log's lock); the
 * limit beside it is the same counts computed from the events themselves (count and count(DISTINCT), what
 * reports did before the rollups), in the same run, and what one count of the send's messages costs (the call
 * still counts them twice, sent and delivered: they are not rolled up, so the call grows with the recipients,
 * no longer with the events).
 */
import pg from 'pg';
import type { Bench } from './sender.js';
import { size } from './scale.js';

const EVENTS = size('BENCH_TRACKING_EVENTS', 1_000_000, 10_000);
const RECIPIENTS = size('BENCH_TRACKING_RECIPIENTS', 100_000, 1_000);
const BATCH = 100_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

export async function trackingReport(b: Bench & { keyId: number }): Promise<void> {
  const { services, ctx } = b;
  const mailing = await services.core.mailings.create(ctx, {
    dialect: 'mailkit',
    name: 'tracking bench',
    fromEmail: 'track@example.org',
    subject: 's',
    html: 'h',
  });
  const client = new pg.Client({ connectionString: b.dbUrl });
  await client.connect();
  try {
    const send = (await client.query<{ id: number }>('SELECT id FROM sends WHERE mailing_id = $1', [mailing])).rows[0]!.id;
    await client.query(
      `INSERT INTO recipients (account_id, mailing_id, send_id, tracking_id, email, status, try_count, first_try, last_try)
       SELECT $1, $2, $3, 'tb' || g, 't' || g || '@example.org', 'finished', 1, now() - interval '1 day', now() - interval '1 day'
         FROM generate_series(1, $4::int) AS g`,
      [ctx.accountId, mailing, send, RECIPIENTS],
    );
    const first = (await client.query<{ id: number }>('SELECT min(id)::bigint AS id FROM recipients WHERE mailing_id = $1', [mailing])).rows[0]!.id;
    // Two opens for each click; every fifth event a machine's; clicks over ten links.
    const insert = (from: number, to: number) =>
      client.query(
        `INSERT INTO events (id, account_id, mailing_id, recipient_id, kind, link, link_index, ip, user_agent, verdict, verdict_reason) OVERRIDING SYSTEM VALUE
         SELECT nextval(pg_get_serial_sequence('events', 'id')), $1, $2, $3::bigint + (g % $4::int),
                CASE WHEN g % 3 = 0 THEN 'click' ELSE 'open' END,
                CASE WHEN g % 3 = 0 THEN 'https://example.org/l' || (g % 10) END,
                CASE WHEN g % 3 = 0 THEN g % 10 END,
                '198.51.100.7', 'Mozilla/5.0 (bench)',
                CASE WHEN g % 5 = 0 THEN 'machine' ELSE 'human' END,
                CASE WHEN g % 5 = 0 THEN 'apple-mpp' END
           FROM generate_series($5::bigint, $6::bigint) AS g
          CROSS JOIN (SELECT pg_advisory_xact_lock(${0x65766e74})) AS event_log_lock`,
        [ctx.accountId, mailing, first, RECIPIENTS, from, to],
      );
    // The bulk without the triggers (session_replication_role), its rollups then computed in one pass each: the
    // rows the triggers would have written, made fast.
    const t0 = performance.now();
    await client.query('SET session_replication_role = replica');
    for (let i = 0; i < EVENTS; i += BATCH) await insert(i, Math.min(EVENTS, i + BATCH) - 1);
    await client.query('SET session_replication_role = DEFAULT');
    const rawRate = EVENTS / ((performance.now() - t0) / 1000);
    await client.query(
      `INSERT INTO recipient_event_counts (recipient_id, kind, machine, events, last_at)
       SELECT recipient_id, kind, coalesce(verdict = 'machine', false), count(*), max(created_at) FROM events WHERE mailing_id = $1 GROUP BY 1, 2, 3`,
      [mailing],
    );
    await client.query(
      `INSERT INTO send_event_counts (send_id, kind, machine, events, recipients)
       SELECT r.send_id, c.kind, c.machine, sum(c.events), count(*) FROM recipient_event_counts c JOIN recipients r ON r.id = c.recipient_id
        WHERE r.mailing_id = $1 GROUP BY 1, 2, 3`,
      [mailing],
    );
    await client.query(
      `INSERT INTO recipient_link_counts (recipient_id, link_key, machine, clicks)
       SELECT recipient_id, md5(link)::uuid, coalesce(verdict = 'machine', false), count(*) FROM events
        WHERE mailing_id = $1 AND kind = 'click' AND link IS NOT NULL GROUP BY 1, 2, 3`,
      [mailing],
    );
    await client.query(
      `INSERT INTO send_link_counts (send_id, link_key, machine, link, first_event_id, clicks, visits)
       SELECT r.send_id, md5(e.link)::uuid, coalesce(e.verdict = 'machine', false), min(e.link), min(e.id), count(*), count(DISTINCT e.recipient_id)
         FROM events e JOIN recipients r ON r.id = e.recipient_id WHERE e.mailing_id = $1 AND e.kind = 'click' AND e.link IS NOT NULL GROUP BY 1, 2, 3`,
      [mailing],
    );
    // Then more through the triggers, as every writer writes: their rate with the rollups kept.
    const more = Math.min(BATCH, Math.round(EVENTS / 10));
    const t1 = performance.now();
    await insert(EVENTS, EVENTS + more - 1);
    const insertRate = more / ((performance.now() - t1) / 1000);
    await client.query('ANALYZE events; ANALYZE send_event_counts; ANALYZE recipient_event_counts');

    const call = async () => {
      const t = performance.now();
      const res = await fetch(`${b.url}/json.fcgi`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ function: 'mailkit.report.campaign', id: String(b.keyId), md5: b.secret, parameters: { ID_message: String(mailing) } }),
      });
      const rows = (await res.json()) as { READ_COUNT: string; READ_COUNT_MACHINE: string }[];
      const ms = performance.now() - t;
      if (!Array.isArray(rows) || rows.length !== 1) throw new Error(`report.campaign answered ${JSON.stringify(rows).slice(0, 200)}`);
      return { ms, row: rows[0]! };
    };
    for (let i = 0; i < 5; i++) await call();
    const times: number[] = [];
    let row: { READ_COUNT: string; READ_COUNT_MACHINE: string } | undefined;
    for (let i = 0; i < 200; i++) {
      const r = await call();
      times.push(r.ms);
      row = r.row;
    }
    times.sort((x, y) => x - y);

    // The limit beside it: the same counts from the events themselves (the query before the rollups).
    const direct: number[] = [];
    let counted: Record<string, string> | undefined;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const c = await client.query<Record<string, string>>(
        `SELECT count(*) FILTER (WHERE ev.kind = 'open' AND ev.verdict IS DISTINCT FROM 'machine') AS opens,
                count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'open' AND ev.verdict IS DISTINCT FROM 'machine') AS opens_unique,
                count(*) FILTER (WHERE ev.kind = 'click' AND ev.verdict IS DISTINCT FROM 'machine') AS clicks,
                count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'click' AND ev.verdict IS DISTINCT FROM 'machine') AS clicks_unique
           FROM events ev JOIN recipients r ON r.id = ev.recipient_id WHERE ev.mailing_id = $1 AND r.send_id = $2`,
        [mailing, send],
      );
      counted = c.rows[0];
      direct.push(performance.now() - t);
    }
    direct.sort((x, y) => x - y);
    // What the call still reads per message (sent and delivered counts are not rolled up): twice, by the
    // mailing's totals and by the send's counts.
    const perMessage: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await client.query(`SELECT count(*) FILTER (WHERE status = 'finished') FROM recipients WHERE mailing_id = $1 AND send_id = $2`, [mailing, send]);
      perMessage.push(performance.now() - t);
    }
    perMessage.sort((x, y) => x - y);
    const p50 = quantile(times, 0.5);
    b.line(
      `tracking: report.campaign over ${fmt((EVENTS + more) / 1000)}k events`,
      `p50 ${p50.toFixed(1)} ms, p99 ${quantile(times, 0.99).toFixed(1)} ms`,
      'fast over 10M events (rollups)',
      `counting the events instead: ${quantile(direct, 0.5).toFixed(0)} ms alone (${(quantile(direct, 0.5) / p50).toFixed(1)} x the call); ` +
        `one count of the ${fmt(RECIPIENTS)} messages: ${quantile(perMessage, 0.5).toFixed(0)} ms; events written at ${fmt(insertRate)}/s with their rollups kept by the triggers (${fmt(rawRate)}/s without)`,
    );
    console.log(
      `# tracking: READ_COUNT ${row?.READ_COUNT} (counted from the events: ${counted?.opens}), READ_COUNT_MACHINE ${row?.READ_COUNT_MACHINE}, ${fmt(RECIPIENTS)} recipients`,
    );
  } finally {
    await client.end();
  }
}
