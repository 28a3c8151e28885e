/**
 * The mailing pages' opens and clicks (human and machine apart) and the send-rate chart, in chromium against a
 * real gateway: a CloudMailing mailing created and started by Python's xmlrpc.client, sent by the worker to the
 * built-in capture; the pixel and links of each captured message requested as a person's browser does and as
 * machines do (HEAD, a scanner's user agent). The page's numbers are checked against the stored events, the
 * chart's drawn data against the stored per-minute counts (and those against the recipients' stamps).
 *
 * Time: the too-soon window is 600 s and every recipient is made "delivered a day ago" in the database once
 * final (as test/tracking/hosted.test.ts does), so no verdict depends on how fast this runs.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { Page } from 'playwright-core';
import { LONG, openAdminBrowser, type AdminBrowser } from '../support/admin-browser.js';
import { cloudmailingCalls } from '../support/python-xmlrpc.js';
import { waitFor } from '../support/wait.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SCANNER = 'python-requests/2.32.3';
const LINK = 'https://shop.example.org/sale';
const PEOPLE = ['h1', 'h2', 'h3', 'm1', 'm2', 'm3'] as const;
type Who = (typeof PEOPLE)[number];

let ab: AdminBrowser;
let page: Page;
let mailingId: number;
const problems: string[] = [];
/** Each recipient's hosted pixel and link, as its captured message carries them. */
const carried = new Map<Who, { pixel: string; link: string }>();

before(async () => {
  ab = await openAdminBrowser({ env: { TRACKING_TOO_SOON_SECONDS: '600' } });
  page = ab.page;
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => void problems.push(e.message));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
});
after(async () => {
  await ab?.close();
});

/** The opens and clicks of the mailing as the events table says (human: every verdict but machine). */
async function storedEngagement(): Promise<Record<string, number>> {
  const { rows } = await ab.gw.pool.query<Record<string, number>>(
    `SELECT count(*) FILTER (WHERE kind = 'open' AND NOT m)::int AS opens,
            count(DISTINCT recipient_id) FILTER (WHERE kind = 'open' AND NOT m)::int AS opens_unique,
            count(*) FILTER (WHERE kind = 'click' AND NOT m)::int AS clicks,
            count(DISTINCT recipient_id) FILTER (WHERE kind = 'click' AND NOT m)::int AS clicks_unique,
            count(*) FILTER (WHERE kind = 'open' AND m)::int AS machine_opens,
            count(DISTINCT recipient_id) FILTER (WHERE kind = 'open' AND m)::int AS machine_opens_unique,
            count(*) FILTER (WHERE kind = 'click' AND m)::int AS machine_clicks,
            count(DISTINCT recipient_id) FILTER (WHERE kind = 'click' AND m)::int AS machine_clicks_unique
       FROM (SELECT kind, recipient_id, verdict IS NOT DISTINCT FROM 'machine' AS m FROM events WHERE mailing_id = $1) e`,
    [mailingId],
  );
  return rows[0]!;
}

/** The stored per-minute counts of the mailing, as [minute in s, delivered, deferred, failed]. */
async function storedRate(): Promise<number[][]> {
  const { rows } = await ab.gw.pool.query<{ minute: Date; delivered: number; deferred: number; failed: number }>(
    `SELECT c.minute, c.delivered, c.deferred, c.failed FROM send_minute_counts c JOIN sends s ON s.id = c.send_id
      WHERE s.mailing_id = $1 ORDER BY c.minute`,
    [mailingId],
  );
  return rows.map((r) => [r.minute.getTime() / 1000, r.delivered, r.deferred, r.failed]);
}

/** Every `[data-count]` number inside `scope`, by its name. */
const countsIn = (scope: string) =>
  page.evaluate<Record<string, number>>(
    `Object.fromEntries([...document.querySelectorAll(${JSON.stringify(`${scope} [data-count]`)})].map((e) => [e.getAttribute('data-count'), Number(e.textContent)]))`,
  );

/** The chart's drawn series: [xs, delivered, deferred, failed]. */
const chartData = () => page.evaluate<number[][] | null>('window.mailgateSendRate ? window.mailgateSendRate.data.map((s) => Array.from(s)) : null');

/**
 * Wait until `expression` holds in the page. Asked from here (the DevTools protocol's evaluate), not by
 * page.waitForFunction, which evaluates its predicate in a way the page's CSP (no eval) refuses.
 */
const until = (what: string, expression: string) => waitFor(what, async () => Boolean(await page.evaluate(expression)), LONG, 200);

/** A hit on a hosted URL (under PUBLIC_URL, asked of the test gateway), then its event stored. */
async function hit(url: string, o: { method?: 'GET' | 'HEAD'; ua?: string } = {}): Promise<void> {
  const u = new URL(url);
  const before = (await ab.gw.pool.query('SELECT 1 FROM events WHERE mailing_id = $1', [mailingId])).rowCount!;
  const res = await fetch(new URL(u.pathname + u.search, ab.gw.url), {
    method: o.method ?? 'GET',
    headers: { 'user-agent': o.ua ?? CHROME },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  assert.equal(res.status, url.includes('/t/o/') ? 200 : 302);
  await waitFor('the hit recorded', async () => (await ab.gw.pool.query('SELECT 1 FROM events WHERE mailing_id = $1', [mailingId])).rowCount === before + 1);
}

describe('admin: a mailing’s opens and clicks, human and machine, and its send-rate chart', () => {
  it('draws the send rate live while the mailing goes out', async () => {
    const html = `<html><body><p>Hi</p><a href="${LINK}">Sale</a></body></html>`;
    const [made] = await cloudmailingCalls(ab.gw.url, ab.gw.key.secret, [['create_mailing', ['news@example.org', 'News', 'Stats', html, 'Hi', 'UTF-8']]]);
    mailingId = made!.value as number;
    const set = await cloudmailingCalls(ab.gw.url, ab.gw.key.secret, [
      ['set_mailing_properties', [mailingId, { click_tracking: true, read_tracking: true }]],
      ['add_recipients', [mailingId, PEOPLE.map((p) => ({ email: `${p}@example.org` }))]],
    ]);
    for (const a of set) assert.ok(!('fault' in a), JSON.stringify(a));

    await ab.logIn();
    await page.goto(`${ab.gw.url}/admin/mailings/${mailingId}`);
    assert.deepEqual(await chartData(), [[], [], [], []], 'nothing sent yet: an empty chart');
    assert.match((await page.locator('#send-rate-live').textContent())!, /Nothing sent yet/);

    const [started] = await cloudmailingCalls(ab.gw.url, ab.gw.key.secret, [['start_mailing', [mailingId]]]);
    assert.ok(!('fault' in started!), JSON.stringify(started));
    // The live refresh redraws the chart: no reload here.
    await until('six deliveries drawn', 'window.mailgateSendRate && window.mailgateSendRate.data[1].reduce((a, b) => a + b, 0) === 6');
    await page.locator('#progress .status').filter({ hasText: 'finished' }).waitFor({ timeout: LONG });

    const stored = await storedRate();
    const { rows: stamps } = await ab.gw.pool.query<{ minute: Date; n: number }>(
      `SELECT date_trunc('minute', modified_at) AS minute, count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'finished' GROUP BY 1 ORDER BY 1`,
      [mailingId],
    );
    assert.deepEqual(
      stored.map((r) => [r[0], r[1]]),
      stamps.map((s) => [s.minute.getTime() / 1000, s.n]),
      'the rollup counts each delivery in the minute of its stamp',
    );
    await until('the stored minutes on the page', `document.getElementById('send-rate-live').dataset.series === ${JSON.stringify(JSON.stringify(stored))}`);
    const drawn = (await chartData())!;
    // The drawn points are the stored minutes, with zeros only where a gap of minutes is.
    const byMinute = new Map(stored.map((r) => [r[0], r]));
    assert.deepEqual(
      drawn[0]!.filter((x) => byMinute.has(x)),
      stored.map((r) => r[0]),
    );
    drawn[0]!.forEach((x, i) => assert.deepEqual([x, drawn[1]![i], drawn[2]![i], drawn[3]![i]], byMinute.get(x) ?? [x, 0, 0, 0]));
    assert.ok(await page.locator('#send-rate-chart canvas').isVisible(), 'the chart is drawn');
  });

  it('counts opens and clicks as people and machines make them, live, as the events say', async () => {
    await ab.gw.pool.query(`UPDATE recipients SET last_try = now() - interval '1 day' WHERE mailing_id = $1`, [mailingId]);
    const { rows } = await ab.gw.pool.query<{ raw: Buffer }>(`SELECT raw FROM captured_messages WHERE subject = 'Stats' ORDER BY id`);
    assert.equal(rows.length, 6);
    for (const r of rows) {
      const mail = await simpleParser(r.raw);
      const to = (Array.isArray(mail.to) ? mail.to[0] : mail.to)!.value[0]!.address!;
      const body = String(mail.html);
      const pixel = /<img src="([^"]*\/t\/o\/[^"]*)"/.exec(body)?.[1];
      const link = /<a href="([^"]*\/t\/c\/[^"]*)"/.exec(body)?.[1];
      assert.ok(pixel && link, body);
      carried.set(to.split('@')[0] as Who, { pixel: pixel.replace(/&amp;/g, '&'), link: link.replace(/&amp;/g, '&') });
    }
    const of = (w: Who) => carried.get(w)!;

    // The page is open before the hits: its live part follows them.
    await page.goto(`${ab.gw.url}/admin/mailings/${mailingId}`);
    // People: h1 reads twice and clicks, h2 reads, h3 clicks twice.
    await hit(of('h1').pixel);
    await hit(of('h1').pixel);
    await hit(of('h1').link);
    await hit(of('h2').pixel);
    await hit(of('h3').link);
    await hit(of('h3').link);
    // Machines: a link checker's HEAD, a scanner's user agent.
    await hit(of('m1').pixel, { method: 'HEAD' });
    await hit(of('m2').pixel, { ua: SCANNER });
    await hit(of('m2').link, { ua: SCANNER });
    await hit(of('m2').link, { method: 'HEAD' });
    await hit(of('m3').link, { method: 'HEAD' });

    const stored = await storedEngagement();
    assert.deepEqual(stored, {
      opens: 3,
      opens_unique: 2,
      clicks: 3,
      clicks_unique: 2,
      machine_opens: 2,
      machine_opens_unique: 2,
      machine_clicks: 3,
      machine_clicks_unique: 2,
    });
    await until(
      'the last hit on the page',
      `Number(document.querySelector('#progress [data-count="machine_clicks"]').textContent) === ${stored.machine_clicks}`,
    );
    assert.deepEqual(await countsIn('#progress'), stored, 'the mailing page, refreshed live');
    await ab.shot('mailing-stats');

    await page.goto(`${ab.gw.url}/admin/mailings`);
    assert.deepEqual(await countsIn(`tr[data-mailing="${mailingId}"]`), stored, 'the mailings list');
    assert.deepEqual(await page.locator('thead th.split').allTextContents(), ['Opens human', 'Opens machine', 'Clicks human', 'Clicks machine']);
    await ab.shot('mailings');
  });

  it('serves the chart library from /admin/assets as JavaScript, with no console error on the pages', async () => {
    await page.goto(`${ab.gw.url}/admin/mailings/${mailingId}`);
    assert.equal(await page.locator('script[src="/admin/assets/uplot.min.js"]').count(), 1);
    const js = await page.request.get(`${ab.gw.url}/admin/assets/uplot.min.js`);
    assert.equal(js.status(), 200);
    assert.match(js.headers()['content-type']!, /^(text|application)\/javascript\b/);
    const published = await readFile(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
    assert.ok((await js.body()).equals(published), 'the file as published in node_modules');
    const css = await page.request.get(`${ab.gw.url}/admin/assets/uplot.min.css`);
    assert.equal(css.status(), 200);
    assert.match(css.headers()['content-type']!, /^text\/css\b/);
    assert.match(js.headers()['content-security-policy'] ?? '', /script-src 'self';/);
    await page.locator('#send-rate-chart canvas').waitFor();
    assert.deepEqual(problems, [], 'no console error, no CSP refusal');
  });

  it('shows the same numbers as a table with JavaScript off', async () => {
    const context = await ab.browser.newContext({ javaScriptEnabled: false });
    const other = await context.newPage();
    await ab.logIn(other);
    await other.goto(`${ab.gw.url}/admin/mailings/${mailingId}`);
    assert.equal(await other.locator('#send-rate-chart').isVisible(), false);
    const rows = await other.locator('#send-rate-live tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent!.trim())));
    const when = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16);
    assert.deepEqual(
      rows,
      (await storedRate()).map(([m, ...n]) => [when(m!), ...n.map(String)]),
    );
    await context.close();
  });
});
