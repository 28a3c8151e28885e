/**
 * The admin pages as HTML, through `html` (html.ts): every value printed is escaped. Each page is a function
 * of what its route read from the core; the layout adds the navigation, the operator and the logout form.
 * Every row of an object names its account (operators see all accounts).
 */
import type { MailingView } from '../../core/mailings/service.js';
import type { Engagement, MailingSummary, Progress, SendRateRow } from '../../core/overview/service.js';
import type { CapturedMessage } from '../../core/outbox/service.js';
import type { MessageSummary } from '../../core/mailings/message.js';
import type { BounceSummaryRow, RecipientSummaryRow, SuppressionSummaryRow } from '../../db/overview.js';
import type { AccountRow, ApiKeyRow } from '../../db/accounts.js';
import type { NewKey } from '../../core/accounts/service.js';
import type { EndpointOverview, WebhookDelivery, WebhookEndpoint, WebhookLogLine } from '../../core/webhooks/service.js';
import { WEBHOOK_KINDS } from '../../core/webhooks/payload.js';
import { html, type Html } from './html.js';
import type { SegmentListChoice, SegmentMemberRow, SegmentOverviewRow } from '../../core/lists/segments.js';
import type { UnsubscribeEntryRow, UnsubscribeListOverviewRow } from '../../core/unsubscribe/lists.js';
import { KEY_LABEL_MAX } from '../../core/accounts/service.js';
import { RECIPIENT_FILTERS, SUBSCRIBER_FILTERS, type RecipientFilterName, type SubscriberFilterName } from './values.js';
import type { ListRow, ListSummaryRow, SubscriberRow } from '../../core/lists/service.js';
import type { ImportView } from '../../core/imports/service.js';
import type { CampaignSummary } from '../../core/transactional/service.js';

/** Who is looking: an operator (the CSRF token goes into every form), or an API key reading its outbox. */
export type Viewer = { kind: 'operator'; login: string; csrf: string } | { kind: 'key'; account: string };

const NAV = [
  ['mailings', 'Mailings'],
  ['accounts', 'Accounts & keys'],
  ['bounces', 'Bounces'],
  ['suppressions', 'Suppressions'],
  ['lists', 'Lists'],
  ['segments', 'Segments'],
  ['unsubscribe-lists', 'Unsubscribe lists'],
  ['campaigns', 'Campaigns'],
  ['outbox', 'Outbox'],
  ['webhooks', 'Webhooks'],
] as const;
type Section = (typeof NAV)[number][0];

const when = (d: Date | null | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '');

/** A form of one button posting to `action` with the session's CSRF token, asking `confirm` first when given. */
const postButton = (v: Viewer, action: string, label: string, o: { cls?: string; confirm?: string } = {}) =>
  html`<form class="inline" method="post" action="${action}">
    ${csrfField(v)}<button type="submit" class="${o.cls ?? ''}" ${o.confirm ? html` data-confirm="${o.confirm}"` : ''}>${label}</button>
  </form>`;

/** The one row of an empty table: its text across every column. */
const emptyRow = (columns: number, text: string) =>
  html`<tr>
    <td colspan="${columns}" class="muted">${text}</td>
  </tr>`;

export const csrfField = (v: Viewer) => (v.kind === 'operator' ? html`<input type="hidden" name="csrf" value="${v.csrf}" />` : html``);

function document(title: string, body: Html, head: Html = html``): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Mailgate</title>
        <link rel="stylesheet" href="/admin/assets/admin.css" />
        <!-- no icon: else the browser asks for /favicon.ico, a 404 in every page's console -->
        <link rel="icon" href="data:," />
        ${head}
        <script src="/admin/assets/admin.js" defer></script>
      </head>
      <body>
        ${body}
      </body>
    </html>`.text;
}

export function page(
  viewer: Viewer,
  section: Section,
  title: string,
  body: Html,
  opts: { notice?: string | undefined; live?: boolean; chart?: boolean } = {},
): string {
  const nav =
    viewer.kind === 'operator'
      ? html`<nav>${NAV.map(([key, label]) => html`<a href="/admin/${key}" ${key === section ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
          <span class="muted">${viewer.login}</span>
          <form method="post" action="/admin/logout">${csrfField(viewer)}<button class="plain" type="submit">Log out</button></form>`
      : html`<nav><a href="/admin/outbox" aria-current="page">Outbox</a></nav>
          <span class="muted">account ${viewer.account} (API key)</span>`;
  // Without JavaScript, pages with live parts reload themselves.
  const head = html`${opts.live ? html`<noscript><meta http-equiv="refresh" content="5" /></noscript>` : ''}${
    // The chart library before admin.js (both deferred: they run in this order).
    opts.chart
      ? html`<link rel="stylesheet" href="/admin/assets/uplot.min.css" />
          <script src="/admin/assets/uplot.min.js" defer></script>`
      : ''
  }`;
  return document(
    title,
    html`<header><span class="brand">Mailgate</span>${nav}</header>
      <main>
        <h1>${title}</h1>
        ${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : ''}${body}
      </main>`,
    head,
  );
}

export function loginPage(o: { csrf: string; next: string; login?: string; error?: string | undefined }): string {
  return document(
    'Log in',
    html`<div class="login">
      <h1>Mailgate</h1>
      ${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
      <form method="post" action="/admin/login">
        <input type="hidden" name="csrf" value="${o.csrf}" /><input type="hidden" name="next" value="${o.next}" />
        <label>Login <input name="login" autocomplete="username" required value="${o.login ?? ''}" autofocus /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
        <button type="submit">Log in</button>
      </form>
    </div>`,
  );
}

/** A page that only says something (an error, a refusal), with a way back. */
export function messagePage(viewer: Viewer | undefined, title: string, text: string): string {
  const body = html`<p class="error" role="alert">${text}</p>
    <p><a href="/admin/mailings">Back to the admin pages</a></p>`;
  return viewer
    ? page(viewer, 'mailings', title, body)
    : document(
        title,
        html`<main>
          <h1>${title}</h1>
          ${body}
        </main>`,
      );
}

// --- accounts and keys ---------------------------------------------------------------------------------

export function accountsPage(v: Viewer, accounts: (AccountRow & { keys: number })[], keys: ApiKeyRow[], notice?: string): string {
  const options = accounts.map((a) => html`<option value="${a.slug}">${a.slug}</option>`);
  return page(
    v,
    'accounts',
    'Accounts & API keys',
    html`<h2>Accounts</h2>
      <form class="bar" method="post" action="/admin/accounts">
        ${csrfField(v)} <label>New account (slug) <input name="slug" required pattern="[A-Za-z0-9._-]{1,100}" /></label
        ><button type="submit">Create account</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>Account</th>
            <th>Name</th>
            <th class="num">Active keys</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          ${accounts.map(
            (a) =>
              html`<tr>
                <td>${a.slug}</td>
                <td>${a.name ?? ''}</td>
                <td class="num">${a.keys}</td>
                <td>${when(a.created_at)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>API keys</h2>
      <form class="bar" method="post" action="/admin/keys">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${options}
          </select></label
        >
        <label>Label <input name="label" maxlength="200" /></label><button type="submit">Create key</button>
      </form>
      <table id="keys">
        <thead>
          <tr>
            <th class="num">Key id</th>
            <th>Account</th>
            <th>Label</th>
            <th>State</th>
            <th>Created</th>
            <th>Last used</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${keys.map(
            (k) =>
              html`<tr data-key="${k.id}">
                <td class="num">${k.id}</td>
                <td>${k.account}</td>
                <td class="key-label">${k.label ?? ''}</td>
                <td>${k.revoked_at ? html`<span class="muted">revoked ${when(k.revoked_at)}</span>` : 'active'}</td>
                <td>${when(k.created_at)}</td>
                <td>${when(k.last_used_at)}</td>
                <td>
                  ${k.revoked_at ? '' : postButton(v, `/admin/keys/${k.id}/revoke`, 'Revoke', { cls: 'danger', confirm: `Revoke key ${k.id}? Clients using it are refused at once.` })}
                  ${keyLabelForm(v, k)}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>`,
    { notice },
  );
}

export function newKeyPage(v: Viewer, key: NewKey): string {
  return page(
    v,
    'accounts',
    'New API key',
    html`<p>
        Key <strong>${key.id}</strong> of account <strong>${key.account}</strong>${key.label ? html` (${key.label})` : ''}. Its secret is shown this once; copy
        it now:
      </p>
      <p class="secret" id="secret">${key.secret}</p>
      <p class="muted">
        CloudMailing: <code>xmlrpc.client.ServerProxy("http://admin:SECRET@HOST/CloudMailing")</code>; Mailkit: client_id ${key.id} and the secret.
      </p>
      <p><a href="/admin/accounts">Back to accounts & keys</a></p>`,
  );
}

// --- mailings ------------------------------------------------------------------------------------------

function progressBar(p: Progress): Html {
  return html`<progress max="100" value="${p.percent}">${p.percent} %</progress>`;
}

const statusWord = (s: string) => html`<span class="status status-${s}">${s}</span>`;

/** `?before=` paging: a link to the older rows when the page is full. */
function older(rows: { id: number }[], limit: number, keep: Record<string, string | undefined>): Html {
  if (rows.length < limit) return html``;
  const q = new URLSearchParams();
  for (const [k, val] of Object.entries(keep)) if (val) q.set(k, val);
  q.set('before', String(rows[rows.length - 1]!.id));
  return html`<p><a href="?${q.toString()}">Older</a></p>`;
}

/** The opens and clicks columns: [field prefix of Engagement, label]. */
const ENGAGEMENT_COLUMNS = [
  ['opens', 'Opens human'],
  ['machine_opens', 'Opens machine'],
  ['clicks', 'Clicks human'],
  ['machine_clicks', 'Clicks machine'],
] as const;
type EngagementKey = (typeof ENGAGEMENT_COLUMNS)[number][0];

/** `unique / total`, each number marked with its Engagement field (data-count) for whoever reads the page. */
const engagementCell = (e: Engagement, key: EngagementKey) =>
  html`<span data-count="${key}_unique">${e[`${key}_unique`]}</span> / <span data-count="${key}">${e[key]}</span>`;

export function mailingsPage(v: Viewer, rows: MailingSummary[], o: { search?: string | undefined; limit: number }): string {
  return page(
    v,
    'mailings',
    'Mailings',
    html`<form class="bar" method="get">
        <label>Search name or subject <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button> <a href="">Refresh</a>
      </form>
      <table>
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>Account</th>
            <th>Dialect</th>
            <th>Name / subject</th>
            <th>Status</th>
            <th>Progress</th>
            <th class="num">Sent</th>
            <th class="num">Pending</th>
            <th class="num">Deferred</th>
            <th class="num">Failed</th>
            ${ENGAGEMENT_COLUMNS.map(([, label]) => html`<th class="num split" title="unique recipients / total">${label}</th>`)}
            <th>Submitted</th>
          </tr>
        </thead>
        <tbody id="mailings-live" data-live>
          ${rows.map(
            (m) =>
              html`<tr data-mailing="${m.id}">
                <td class="num"><a href="/admin/mailings/${m.id}">${m.id}</a></td>
                <td>${m.account}</td>
                <td>${m.dialect}</td>
                <td>${m.name ? html`<strong>${m.name}</strong><br />` : ''}${m.subject}</td>
                <td>${statusWord(m.status)}</td>
                <td>${progressBar(m.progress)} <span class="percent">${m.progress.percent} %</span></td>
                <td class="num">${m.progress.sent}</td>
                <td class="num">${m.progress.pending}</td>
                <td class="num">${m.progress.deferred}</td>
                <td class="num">${m.progress.failed}</td>
                ${ENGAGEMENT_COLUMNS.map(([key]) => html`<td class="num split">${engagementCell(m.engagement, key)}</td>`)}
                <td>${when(m.submit_time)}</td>
              </tr>`,
          )}
          ${rows.length ? '' : emptyRow(11 + ENGAGEMENT_COLUMNS.length, 'No mailings.')}
        </tbody>
      </table>
      <p class="muted">Opens and clicks: unique recipients / total, people's (human) and machines' (scanners, proxies, prefetches) apart.</p>
      ${older(rows, o.limit, { q: o.search })}`,
    { live: true },
  );
}

type MailingDetail = MailingView & { account: string; progress: Progress };

/** Opens and clicks of one mailing: recipients and events, human and machine. */
function engagementTable(e: Engagement): Html {
  const row = (label: string, human: keyof Engagement, machine: keyof Engagement) =>
    html`<tr>
      <th>${label}</th>
      <td class="num" data-count="${human}">${e[human]}</td>
      <td class="num" data-count="${machine}">${e[machine]}</td>
    </tr>`;
  return html`<table class="engagement">
    <thead>
      <tr>
        <th></th>
        <th class="num">Human</th>
        <th class="num">Machine</th>
      </tr>
    </thead>
    <tbody>
      ${row('Opened (recipients)', 'opens_unique', 'machine_opens_unique')} ${row('Opens', 'opens', 'machine_opens')}
      ${row('Clicked (recipients)', 'clicks_unique', 'machine_clicks_unique')} ${row('Clicks', 'clicks', 'machine_clicks')}
    </tbody>
  </table>`;
}

/**
 * The send rate: a table of the minutes with an outcome (what the page shows without JavaScript), and the same
 * rows as JSON ([minute in s, delivered, deferred, failed]) on its live body for the chart (admin.js), which
 * folds the table away when it draws.
 */
function sendRateSection(rows: SendRateRow[]): Html {
  const series = JSON.stringify(rows.map((r) => [r.minute.getTime() / 1000, r.delivered, r.deferred, r.failed]));
  return html`<h2>Send rate</h2>
    <div id="send-rate-chart" class="chart" hidden></div>
    <details id="send-rate-table" class="rate" open>
      <summary>Messages per minute (UTC)</summary>
      <table>
        <thead>
          <tr>
            <th>Minute</th>
            <th class="num">Delivered</th>
            <th class="num">Deferred</th>
            <th class="num">Failed</th>
          </tr>
        </thead>
        <tbody id="send-rate-live" data-live data-series="${series}">
          ${rows.map(
            (r) =>
              html`<tr>
                <td>${when(r.minute).slice(0, 16)}</td>
                <td class="num">${r.delivered}</td>
                <td class="num">${r.deferred}</td>
                <td class="num">${r.failed}</td>
              </tr>`,
          )}
          ${rows.length ? '' : emptyRow(4, 'Nothing sent yet.')}
        </tbody>
      </table>
    </details>`;
}

function mailingActions(v: Viewer, m: MailingDetail): Html {
  const action = (name: string, label: string, cls = '', confirm?: string) =>
    postButton(v, `/admin/mailings/${m.id}/${name}`, label, { cls, ...(confirm ? { confirm } : {}) });
  const out: Html[] = [];
  if (m.status === 'ready' || m.status === 'running') out.push(action('pause', 'Pause'));
  if (m.status === 'paused') out.push(action('resume', 'Resume'));
  if (m.status === 'filling') out.push(action('resume', 'Start'));
  if (m.status === 'ready' || m.status === 'running' || m.status === 'paused')
    out.push(action('cancel', 'Cancel', 'danger', 'Cancel this mailing? Recipients not sent yet will never be.'));
  if (m.progress.failed) out.push(action('resend', `Resend to the ${m.progress.failed} failed`, 'plain'));
  return html`<div class="actions">${out}</div>`;
}

export function mailingPage(
  v: Viewer,
  m: MailingDetail,
  recipients: RecipientSummaryRow[],
  o: { filter: RecipientFilterName; search?: string | undefined; limit: number; notice?: string | undefined; sendRate: SendRateRow[] },
): string {
  const p = m.progress;
  const filters = Object.keys(RECIPIENT_FILTERS).map((f) => html`<option value="${f}" ${f === o.filter ? html` selected` : ''}>${f}</option>`);
  return page(
    v,
    'mailings',
    `Mailing ${m.id}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${m.account}</dd>
        <dt>Name</dt>
        <dd>${m.name ?? ''}</dd>
        <dt>Subject</dt>
        <dd>${m.subject}</dd>
        <dt>From</dt>
        <dd>${m.fromName ? `${m.fromName} <${m.fromEmail}>` : m.fromEmail}</dd>
        <dt>Submitted</dt>
        <dd>${when(m.submitTime)}</dd>
      </dl>
      <section id="progress" data-live>
        <dl class="facts">
          <dt>Status</dt>
          <dd>${statusWord(m.status)}</dd>
          <dt>Started</dt>
          <dd>${when(m.startTime)}</dd>
          <dt>Finished</dt>
          <dd>${when(m.endTime)}</dd>
          <dt>Progress</dt>
          <dd>${progressBar(p)} <span class="percent">${p.percent} %</span> of ${p.total}</dd>
          <dt>Sent</dt>
          <dd class="sent">${p.sent}</dd>
          <dt>Pending</dt>
          <dd class="pending">${p.pending}</dd>
          <dt>Deferred</dt>
          <dd class="deferred">${p.deferred}</dd>
          <dt>Failed</dt>
          <dd class="failed">${p.failed}</dd>
        </dl>
        ${engagementTable(m.engagement)} ${mailingActions(v, m)}
      </section>
      ${sendRateSection(o.sendRate)}
      <h2>Recipients</h2>
      <form class="bar" method="get">
        <label
          >Status
          <select name="status">
            ${filters}
          </select></label
        >
        <label>Address contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Filter</button
        ><a href="/admin/mailings/${m.id}">Refresh</a>
      </form>
      <table id="recipients">
        <thead>
          <tr>
            <th>Address</th>
            <th>Status</th>
            <th class="num">Tries</th>
            <th>Last reply</th>
            <th>Changed</th>
          </tr>
        </thead>
        <tbody id="recipients-live" data-live>
          ${recipients.map(
            (r) =>
              html`<tr>
                <td>${r.email}</td>
                <td>${r.status}</td>
                <td class="num">${r.try_count}</td>
                <td>${r.reply_code ?? ''} ${r.reply_text ?? ''}</td>
                <td>${when(r.modified_at)}</td>
              </tr>`,
          )}
          ${recipients.length ? '' : emptyRow(5, 'No recipients.')}
        </tbody>
      </table>
      ${older(recipients, o.limit, { status: o.filter === 'all' ? undefined : o.filter, q: o.search })}`,
    { notice: o.notice, live: m.status !== 'finished', chart: true },
  );
}

// --- bounces and suppressions --------------------------------------------------------------------------

export function bouncesPage(v: Viewer, rows: BounceSummaryRow[], o: { search?: string | undefined; limit: number }): string {
  return page(
    v,
    'bounces',
    'Bounce log',
    html`<form class="bar" method="get">
        <label>Address or reason contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      <table>
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>When</th>
            <th>Account</th>
            <th>Mailing</th>
            <th>Address</th>
            <th>Kind</th>
            <th>Source</th>
            <th>Status</th>
            <th>Reason</th>
            <th>Remote MTA</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (b) =>
              html`<tr>
                <td class="num">${b.id}</td>
                <td>${when(b.created_at)}</td>
                <td>${b.account}</td>
                <td>${b.mailing_id ? html`<a href="/admin/mailings/${b.mailing_id}">${b.mailing_id}</a>` : ''}</td>
                <td>${b.email}</td>
                <td>${b.kind}</td>
                <td>${b.source}</td>
                <td>${b.enhanced_status ?? ''}</td>
                <td>${b.text_status ?? ''}</td>
                <td>${b.remote_mta ?? ''}</td>
              </tr>`,
          )}
          ${rows.length ? '' : emptyRow(10, 'No bounces.')}
        </tbody>
      </table>
      ${older(rows, o.limit, { q: o.search })}`,
  );
}

export function suppressionsPage(
  v: Viewer,
  rows: SuppressionSummaryRow[],
  accounts: AccountRow[],
  o: { search?: string | undefined; notice?: string | undefined; limit: number },
): string {
  return page(
    v,
    'suppressions',
    'Suppression list',
    html`<form class="bar" method="get">
        <label>Address contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      <form class="bar" method="post" action="/admin/suppressions">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${accounts.map((a) => html`<option value="${a.slug}">${a.slug}</option>`)}
          </select></label
        >
        <label>Address <input name="email" type="email" required /></label><button type="submit">Suppress</button>
      </form>
      <table id="suppressions">
        <thead>
          <tr>
            <th>Account</th>
            <th>Address</th>
            <th>Reason</th>
            <th>Detail</th>
            <th>Since</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (s) =>
              html`<tr>
                <td>${s.account}</td>
                <td>${s.email}</td>
                <td>${s.reason}</td>
                <td>${s.detail ?? ''}</td>
                <td>${when(s.created_at)}</td>
                <td>
                  <form class="inline" method="post" action="/admin/suppressions/lift">
                    ${csrfField(v)}<input type="hidden" name="account" value="${s.account}" /><input type="hidden" name="email" value="${s.email}" /><button
                      class="plain"
                      type="submit"
                    >
                      Lift
                    </button>
                  </form>
                </td>
              </tr>`,
          )}
          ${rows.length ? '' : emptyRow(6, 'No suppressions.')}
        </tbody>
      </table>
      ${rows.length === o.limit ? html`<p class="muted">The newest ${o.limit} shown; search to find others.</p>` : ''}`,
    { notice: o.notice },
  );
}

// --- the outbox ----------------------------------------------------------------------------------------

export function outboxPage(
  v: Viewer,
  messages: CapturedMessage[],
  total: number,
  o: { search?: string | undefined; limit: number; retentionDays: number; notice?: string | undefined },
): string {
  const purge =
    v.kind === 'operator'
      ? html`<form class="bar" method="post" action="/admin/outbox/purge">
          ${csrfField(v)}
          <label>Older than days (empty: all) <input name="days" inputmode="numeric" pattern="[0-9]*" size="6" /></label>
          <button class="danger" type="submit" data-confirm="Delete these captured messages?">Purge</button>
        </form>`
      : html``;
  return page(
    v,
    'outbox',
    'Outbox (SMTP capture)',
    html`<p>${total} messages kept; nothing was relayed. Messages older than ${o.retentionDays} days are purged by the worker (CAPTURE_RETENTION_DAYS).</p>
      <form class="bar" method="get">
        <label>Address or subject contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      ${purge}
      <table id="outbox">
        <thead>
          <tr>
            <th class="num">#</th>
            <th>Received</th>
            <th>Account</th>
            <th>To</th>
            <th>Subject</th>
            <th class="num">Bytes</th>
          </tr>
        </thead>
        <tbody>
          ${messages.map(
            (r) =>
              html`<tr>
                <td class="num"><a href="/admin/outbox/${r.id}">${r.id}</a></td>
                <td>${when(r.received_at)}</td>
                <td>${r.account ?? ''}</td>
                <td>${r.envelope_to.join(', ')}</td>
                <td>${r.subject ?? ''}</td>
                <td class="num">${r.size}</td>
              </tr>`,
          )}
          ${messages.length ? '' : emptyRow(6, 'No messages.')}
        </tbody>
      </table>
      ${older(messages, o.limit, { q: o.search })}`,
    { notice: o.notice },
  );
}

export function outboxMessagePage(v: Viewer, m: CapturedMessage): string {
  return page(
    v,
    'outbox',
    `Captured message ${m.id}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${m.account ?? ''}</dd>
        <dt>Received</dt>
        <dd>${when(m.received_at)}</dd>
        <dt>Envelope from</dt>
        <dd>${m.envelope_from ?? ''}</dd>
        <dt>Envelope to</dt>
        <dd>${m.envelope_to.join(', ')}</dd>
        <dt>Subject</dt>
        <dd>${m.subject ?? ''}</dd>
        <dt>Size</dt>
        <dd>${m.size} bytes</dd>
      </dl>
      <p><a href="/admin/outbox/${m.id}/raw">Raw source</a> · <a href="/admin/outbox">Back to the outbox</a></p>
      <iframe class="preview" title="Preview of message ${m.id}" sandbox="" referrerpolicy="no-referrer" src="/admin/outbox/${m.id}/preview"></iframe>`,
  );
}

/** The preview document: the message's html as it is (the response's CSP and the iframe's sandbox contain it), else its text. */
export function previewDocument(s: MessageSummary): string {
  if (s.html) return s.html;
  return html`<!doctype html><meta charset="utf-8" />
    <pre style="white-space:pre-wrap;font:14px monospace">${s.text ?? ''}</pre>`.text;
}

// --- webhooks ------------------------------------------------------------------------------------------

/** An endpoint's state in words: active (and failing, when it is), or paused / disabled with why. */
function endpointState(e: EndpointOverview): Html {
  if (e.state === 'active')
    return e.failures
      ? html`<span class="status status-paused">failing</span>
          <span class="muted">${e.failures} tries in a row since ${when(e.failingSince)}; next try ${when(e.retryAt)}</span>`
      : html`<span class="status status-finished">active</span>`;
  return html`<span class="status status-${e.state === 'paused' ? 'paused' : 'failed'}">${e.state}</span>
    <span class="muted">${e.disabledReason ?? ''}${e.disabledAt ? ` (since ${when(e.disabledAt)})` : ''}</span>`;
}

const ROTATE_CONFIRM = 'Rotate the signing secret? The old one stops at once: requests are signed with the new one only.';

function endpointActions(v: Viewer, e: EndpointOverview): Html {
  const action = (name: string, label: string, cls = '', confirm?: string) =>
    postButton(v, `/admin/webhooks/${e.id}/${name}`, label, { cls, ...(confirm ? { confirm } : {}) });
  return html`${e.state === 'active' ? action('pause', 'Pause', 'plain') : action('resume', e.state === 'paused' ? 'Resume' : 'Re-enable', 'plain')}
  ${action('rotate', 'Rotate secret', 'plain', ROTATE_CONFIRM)}
  ${action('delete', 'Delete', 'danger', `Delete endpoint ${e.id}? Its undelivered messages and its attempt log go with it.`)}`;
}

const kindsText = (kinds: readonly string[]) => (kinds.length === WEBHOOK_KINDS.length ? 'all' : kinds.join(', '));

export function webhooksPage(v: Viewer, endpoints: EndpointOverview[], accounts: AccountRow[], notice?: string): string {
  return page(
    v,
    'webhooks',
    'Webhook endpoints',
    html`<p class="muted">
        Signed POSTs (Standard Webhooks) of delivery and engagement events. Endpoints are created by operators only (here and
        <code>mailgate webhooks add</code>); no dialect's API creates one, so an address on a private or loopback network is accepted on purpose (a company's
        own receivers are often internal). The URL must be http or https with a host, without credentials.
      </p>
      <form class="bar" method="post" action="/admin/webhooks" id="new-endpoint">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${accounts.map((a) => html`<option value="${a.slug}">${a.slug}</option>`)}
          </select></label
        >
        <label>URL <input name="url" type="url" required maxlength="2000" size="40" placeholder="https://hooks.example.org/in" /></label>
        <fieldset class="kinds">
          <legend>Events</legend>
          ${WEBHOOK_KINDS.map((k) => html`<label class="check"><input type="checkbox" name="kinds" value="${k}" checked /> ${k}</label>`)}
        </fieldset>
        <label>Note <input name="description" maxlength="200" /></label>
        <button type="submit">Create endpoint</button>
      </form>
      <table id="endpoints">
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>Account</th>
            <th>URL</th>
            <th>Events</th>
            <th>State</th>
            <th class="num">Backlog</th>
            <th>Last success</th>
            <th>Last failure</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${endpoints.map(
            (e) =>
              html`<tr data-endpoint="${e.id}">
                <td class="num"><a href="/admin/webhooks/${e.id}">${e.id}</a></td>
                <td>${e.account}</td>
                <td><a href="/admin/webhooks/${e.id}">${e.url}</a>${e.description ? html`<br /><span class="muted">${e.description}</span>` : ''}</td>
                <td>${kindsText(e.kinds)}</td>
                <td class="state">${endpointState(e)}</td>
                <td class="num backlog">${e.pending}</td>
                <td>${when(e.lastSuccessAt)}</td>
                <td>${e.lastFailureAt ? html`${when(e.lastFailureAt)}<br /><span class="muted">${e.lastFailure ?? ''}</span>` : ''}</td>
                <td>${endpointActions(v, e)}</td>
              </tr>`,
          )}
          ${endpoints.length ? '' : emptyRow(9, 'No webhook endpoints.')}
        </tbody>
      </table>`,
    { notice },
  );
}

/** The signing secret of a new endpoint, or of one whose secret was rotated: shown on this answer only. */
export function webhookSecretPage(v: Viewer, e: WebhookEndpoint, account: string, secret: string, rotated: boolean): string {
  return page(
    v,
    'webhooks',
    rotated ? 'New signing secret' : 'New webhook endpoint',
    html`<p>
        Endpoint <strong>${e.id}</strong> of account <strong>${account}</strong>: ${e.url} (${kindsText(e.kinds)}). Its signing secret is shown this once; copy
        it now:
      </p>
      <p class="secret" id="secret">${secret}</p>
      ${
        rotated
          ? html`<p class="error" role="alert">
              The old secret stopped at once: every request from now on (retries and replays of earlier messages included) is signed with this one only, so the
              receiver refuses them until it has it. To switch without failures, pause the endpoint first, rotate, give the receiver the new secret, then
              resume: what happens meanwhile queues.
            </p>`
          : ''
      }
      <p class="muted">
        Each request carries <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code> (<code>v1,</code> and the base64
        HMAC-SHA256 of <code>id.timestamp.body</code>, keyed by the secret's bytes after <code>whsec_</code>): any Standard Webhooks library verifies it.
      </p>
      <p><a href="/admin/webhooks/${e.id}">Endpoint ${e.id}</a> · <a href="/admin/webhooks">Back to the webhook endpoints</a></p>`,
  );
}

const attemptResult = (a: WebhookLogLine) =>
  a.ok
    ? html`<span class="status status-finished">HTTP ${a.status_code ?? ''}</span>`
    : html`<span class="status status-failed">${a.status_code !== null ? `HTTP ${a.status_code}` : (a.error ?? 'no answer')}</span>`;

function attemptRows(rows: WebhookLogLine[], empty: string): Html {
  return html`${rows.map(
    (a) =>
      html`<tr data-attempt="${a.id}" class="${a.ok ? 'ok' : 'failed'}">
        <td class="num"><a href="/admin/webhooks/attempts/${a.id}">${a.id}</a></td>
        <td>${when(a.attempted_at)}</td>
        <td>${a.kind}</td>
        <td><code>${a.msg_id}</code></td>
        <td class="num">${a.attempt}</td>
        <td class="result">${attemptResult(a)}</td>
        <td class="num">${a.duration_ms} ms</td>
        <td>${a.state}</td>
      </tr>`,
  )}
  ${rows.length ? '' : emptyRow(8, empty)}`;
}

const ATTEMPT_HEAD = html`<thead>
  <tr>
    <th class="num">Attempt</th>
    <th>When</th>
    <th>Event</th>
    <th>Message (webhook-id)</th>
    <th class="num">#</th>
    <th>Result</th>
    <th class="num">Took</th>
    <th>Message now</th>
  </tr>
</thead>`;

export function webhookEndpointPage(
  v: Viewer,
  e: EndpointOverview & { delivered: number; failed: number },
  log: WebhookLogLine[],
  o: { failedOnly: boolean; limit: number; notice?: string | undefined; since: string },
): string {
  return page(
    v,
    'webhooks',
    `Webhook endpoint ${e.id}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${e.account}</dd>
        <dt>URL</dt>
        <dd>${e.url}</dd>
        <dt>Events</dt>
        <dd>${kindsText(e.kinds)}</dd>
        <dt>Note</dt>
        <dd>${e.description ?? ''}</dd>
        <dt>Created</dt>
        <dd>${when(e.createdAt)}</dd>
        <dt>State</dt>
        <dd class="state">${endpointState(e)}</dd>
        <dt>Backlog</dt>
        <dd class="backlog">${e.pending}</dd>
        <dt>Delivered / failed for good</dt>
        <dd>${e.delivered} / ${e.failed}</dd>
        <dt>Last success</dt>
        <dd>${when(e.lastSuccessAt)}</dd>
        <dt>Last failure</dt>
        <dd>${when(e.lastFailureAt)} ${e.lastFailure ?? ''}</dd>
      </dl>
      <div class="actions">${endpointActions(v, e)}</div>
      <form class="bar" method="post" action="/admin/webhooks/${e.id}/replay-failed" id="replay-failed">
        ${csrfField(v)}
        <label>Replay every failed delivery since (UTC) <input name="since" type="datetime-local" step="1" required value="${o.since}" /></label>
        <button type="submit" class="plain">Replay failed</button>
      </form>
      <p class="muted">
        A replay puts the message back in the outbox: the worker sends it again under the same webhook-id (receivers deduplicate on it), with a fresh retry
        schedule, once the endpoint is active${e.retryAt ? html` and its next try is due (${when(e.retryAt)})` : ''}.
      </p>
      <h2>Attempt log</h2>
      <form class="bar" method="get">
        <label class="check"><input type="checkbox" name="failed" value="1" ${o.failedOnly ? html` checked` : ''} /> Failed only</label>
        <button type="submit">Filter</button> <a href="/admin/webhooks/${e.id}">Refresh</a>
      </form>
      <table id="attempts">
        ${ATTEMPT_HEAD}
        <tbody>
          ${attemptRows(log, o.failedOnly ? 'No failed attempts.' : 'No attempts yet.')}
        </tbody>
      </table>
      ${older(log, o.limit, { failed: o.failedOnly ? '1' : undefined })}`,
    { notice: o.notice },
  );
}

export function webhookDeliveryPage(v: Viewer, endpointId: number, d: WebhookDelivery, notice?: string): string {
  const a = d.attempt;
  return page(
    v,
    'webhooks',
    `Webhook delivery ${a.id}`,
    html`<dl class="facts">
        <dt>Endpoint</dt>
        <dd><a href="/admin/webhooks/${endpointId}">${endpointId}</a></dd>
        <dt>Message (webhook-id)</dt>
        <dd><code id="msg-id">${d.message.msgId}</code></dd>
        <dt>Event</dt>
        <dd>${d.message.kind} (occurred ${when(d.message.occurredAt)})</dd>
        <dt>Attempt</dt>
        <dd>#${a.attempt}, ${when(a.attempted_at)}, took ${a.duration_ms} ms</dd>
        <dt>Result</dt>
        <dd class="result">${attemptResult(a)}${!a.ok && a.status_code !== null && a.error ? html` <span class="muted">${a.error}</span>` : ''}</dd>
        <dt>Message now</dt>
        <dd class="message-state">
          ${d.message.state}${d.message.state === 'delivered' ? ` at ${when(d.message.deliveredAt)}` : ''}${
            d.message.state === 'pending' ? ` (next attempt due ${when(d.message.nextAttemptAt)})` : ''
          }
        </dd>
      </dl>
      <form class="inline" method="post" action="/admin/webhooks/attempts/${a.id}/replay">
        ${csrfField(v)}<button type="submit" id="replay">Replay this message</button>
      </form>
      <h2>Body</h2>
      <p class="muted">As every attempt of this message sends it (rendered from the message's snapshot; the mailing's name as it is now).</p>
      <pre class="payload" id="payload">${d.body}</pre>
      <h2>Answer</h2>
      ${
        a.status_code !== null
          ? html`<p>HTTP ${a.status_code}; the start of its body (at most 500 characters are kept):</p>
              <pre class="payload" id="response">${a.response ?? ''}</pre>`
          : html`<p>No answer: ${a.error ?? 'the connection failed'}.</p>`
      }
      <h2>Every attempt of this message</h2>
      <table id="message-attempts">
        ${ATTEMPT_HEAD}
        <tbody>
          ${attemptRows(d.attempts, 'No attempts.')}
        </tbody>
      </table>`,
    { notice },
  );
}

// --- segments, unsubscribe lists, key labels -----------------------------------------------------------

/** A form to change a key's label, after its Revoke button (the label itself is printed as text in its own cell). */
function keyLabelForm(v: Viewer, k: ApiKeyRow): Html {
  return html`<form class="inline" method="post" action="/admin/keys/${k.id}/label">
    ${csrfField(v)}<input name="label" aria-label="New label of key ${k.id}" maxlength="${KEY_LABEL_MAX}" value="${k.label ?? ''}" /><button
      class="plain"
      type="submit"
    >
      Save label
    </button>
  </form>`;
}

const conditionsText = (c: Record<string, unknown>) =>
  Object.entries(c)
    .map(([k, val]) => `${k}=${typeof val === 'string' ? val : JSON.stringify(val)}`)
    .join(', ');

export function segmentsPage(v: Viewer, segments: SegmentOverviewRow[], lists: SegmentListChoice[], notice?: string): string {
  return page(
    v,
    'segments',
    'Segments',
    html`<p class="muted">
        A segment is the part of a list whose subscribers' fields have the values of its conditions; an Emailicious mailing's <code>segments</code> and a
        delivery's <code>exclusions</code> name segments by id.
      </p>
      <form class="bar" method="post" action="/admin/segments" id="new-segment">
        ${csrfField(v)}
        <label
          >List
          <select name="list" required>
            ${lists.map((l) => html`<option value="${l.id}">${l.account} · ${l.name} (list ${l.id})</option>`)}
          </select></label
        >
        <label>Name <input name="name" required maxlength="200" /></label>
        <label>Conditions (field=value, one a line) <textarea name="conditions" rows="3" cols="30" required placeholder="city=Berlin"></textarea></label
        ><button type="submit">Create segment</button>
      </form>
      <table id="segments">
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>Account</th>
            <th>List</th>
            <th>Name</th>
            <th>Conditions</th>
            <th class="num">Matching now</th>
            <th>Created</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${segments.map(
            (g) =>
              html`<tr data-segment="${g.id}">
                <td class="num"><a href="/admin/segments/${g.id}">${g.id}</a></td>
                <td>${g.account}</td>
                <td>${g.list_name} (${g.list_id})</td>
                <td>${g.name}</td>
                <td><code>${conditionsText(g.conditions)}</code></td>
                <td class="num matching">${g.matching}</td>
                <td>${when(g.created_at)}</td>
                <td>${segmentDeleteForm(v, g)}</td>
              </tr>`,
          )}
          ${segments.length ? '' : emptyRow(8, 'No segments.')}
        </tbody>
      </table>`,
    { notice },
  );
}

const segmentDeleteForm = (v: Viewer, g: SegmentOverviewRow) =>
  postButton(v, `/admin/segments/${g.id}/delete`, 'Delete', {
    cls: 'danger',
    confirm: `Delete segment ${g.id}? Mailings naming it keep their recipients.`,
  });

export function segmentPage(v: Viewer, g: SegmentOverviewRow, members: SegmentMemberRow[], o: { limit: number; notice?: string | undefined }): string {
  return page(
    v,
    'segments',
    `Segment ${g.id}: ${g.name}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${g.account}</dd>
        <dt>List</dt>
        <dd>${g.list_name} (${g.list_id})</dd>
        <dt>Conditions</dt>
        <dd><code>${conditionsText(g.conditions)}</code></dd>
        <dt>Matching now</dt>
        <dd class="matching">${g.matching}</dd>
        <dt>Created</dt>
        <dd>${when(g.created_at)}</dd>
      </dl>
      <div class="actions">${segmentDeleteForm(v, g)}</div>
      <h2>Matching subscribers</h2>
      <p class="muted">Every subscriber of the list whose fields match, whatever its status; a mailing sends to the active ones only.</p>
      <table id="members">
        <thead>
          <tr>
            <th class="num">Subscriber</th>
            <th>Address</th>
            <th>Status</th>
            <th>Fields</th>
          </tr>
        </thead>
        <tbody>
          ${members.map(
            (m) =>
              html`<tr>
                <td class="num">${m.id}</td>
                <td class="email">${m.email}</td>
                <td>${m.status}${m.enabled || m.status === 'disabled' ? '' : html` <span class="muted">(disabled)</span>`}</td>
                <td><code>${conditionsText(m.params)}</code></td>
              </tr>`,
          )}
          ${members.length ? '' : emptyRow(4, 'No subscriber matches.')}
        </tbody>
      </table>
      ${older(members, o.limit, {})}
      <p><a href="/admin/segments">Back to the segments</a></p>`,
    { notice: o.notice },
  );
}

export function unsubscribeListsPage(v: Viewer, lists: UnsubscribeListOverviewRow[], accounts: AccountRow[], notice?: string): string {
  return page(
    v,
    'unsubscribe-lists',
    'Unsubscribe lists',
    html`<p class="muted">
        Sender's named sets of addresses: a mailing honouring a list skips its addresses, and its unsubscribe link puts the address into the list instead of
        suppressing it for the whole account.
      </p>
      <form class="bar" method="post" action="/admin/unsubscribe-lists" id="new-unsubscribe-list">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${accounts.map((a) => html`<option value="${a.slug}">${a.slug}</option>`)}
          </select></label
        >
        <label>Slug <input name="slug" required pattern="[A-Za-z0-9._-]{1,80}" maxlength="80" /></label>
        <label>Name (default: the slug) <input name="name" maxlength="200" /></label><button type="submit">Create list</button>
      </form>
      <table id="unsubscribe-lists">
        <thead>
          <tr>
            <th>Account</th>
            <th>Slug</th>
            <th>Name</th>
            <th class="num">Addresses</th>
            <th>Created</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${lists.map(
            (l) =>
              html`<tr data-unsubscribe-list="${l.id}">
                <td>${l.account}</td>
                <td><a href="/admin/unsubscribe-lists/${l.id}">${l.slug}</a></td>
                <td>${l.name}</td>
                <td class="num entries">${l.entries}</td>
                <td>${when(l.created_at)}</td>
                <td>${unsubscribeListDeleteForm(v, l)}</td>
              </tr>`,
          )}
          ${lists.length ? '' : emptyRow(6, 'No unsubscribe lists.')}
        </tbody>
      </table>`,
    { notice },
  );
}

const unsubscribeListDeleteForm = (v: Viewer, l: UnsubscribeListOverviewRow) =>
  postButton(v, `/admin/unsubscribe-lists/${l.id}/delete`, 'Delete', {
    cls: 'danger',
    confirm: `Delete the unsubscribe list ${l.slug} and its ${l.entries} addresses?`,
  });

export function unsubscribeListPage(
  v: Viewer,
  l: UnsubscribeListOverviewRow,
  rows: (UnsubscribeEntryRow & { email_key: string })[],
  o: { search?: string | undefined; limit: number; notice?: string | undefined },
): string {
  const next = new URLSearchParams();
  if (o.search) next.set('q', o.search);
  if (rows.length) next.set('after', rows[rows.length - 1]!.email_key);
  return page(
    v,
    'unsubscribe-lists',
    `Unsubscribe list ${l.slug}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${l.account}</dd>
        <dt>Name</dt>
        <dd>${l.name}</dd>
        <dt>Addresses</dt>
        <dd class="entries">${l.entries}</dd>
        <dt>Created</dt>
        <dd>${when(l.created_at)}</dd>
      </dl>
      <div class="actions">${unsubscribeListDeleteForm(v, l)}</div>
      <form class="bar" method="post" action="/admin/unsubscribe-lists/${l.id}/add" id="add-address">
        ${csrfField(v)}
        <label>Address <input name="email" type="email" required /></label><button type="submit">Add</button>
      </form>
      <form class="bar" method="get">
        <label>Address contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      <table id="addresses">
        <thead>
          <tr>
            <th>Address</th>
            <th>Added</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (e) =>
              html`<tr>
                <td class="email">${e.email}</td>
                <td>${when(e.created_at)}</td>
                <td>
                  <form class="inline" method="post" action="/admin/unsubscribe-lists/${l.id}/remove">
                    ${csrfField(v)}<input type="hidden" name="email" value="${e.email}" /><button class="plain" type="submit">Remove</button>
                  </form>
                </td>
              </tr>`,
          )}
          ${rows.length ? '' : emptyRow(3, 'No addresses.')}
        </tbody>
      </table>
      ${rows.length === o.limit ? html`<p><a href="?${next.toString()}">Next</a></p>` : ''}
      <p><a href="/admin/unsubscribe-lists">Back to the unsubscribe lists</a></p>`,
    { notice: o.notice },
  );
}

// --- lists, subscribers, imports and transactional campaigns -------------------------------------------

const SUBSCRIBER_STATUSES = ['active', 'unconfirmed', 'unsubscribed', 'bounced', 'complained', 'disabled'] as const;

const accountOptions = (accounts: AccountRow[]) => accounts.map((a) => html`<option value="${a.slug}">${a.slug}</option>`);

export function listsPage(
  v: Viewer,
  rows: ListSummaryRow[],
  accounts: AccountRow[],
  o: { search?: string | undefined; limit: number; notice?: string | undefined },
): string {
  return page(
    v,
    'lists',
    'Lists',
    html`<form class="bar" method="post" action="/admin/lists">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${accountOptions(accounts)}
          </select></label
        >
        <label>New list (name) <input name="name" required maxlength="200" /></label><button type="submit">Create list</button>
      </form>
      <form class="bar" method="get">
        <label>Name contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      <table id="lists">
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>Account</th>
            <th>Slug</th>
            <th>Name</th>
            <th class="num">Subscribers</th>
            ${SUBSCRIBER_STATUSES.map((st) => html`<th class="num">${st}</th>`)}
            <th>Created</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows.map((l) => {
            const total = Object.values(l.counts).reduce((a, n) => a + (n ?? 0), 0);
            return html`<tr data-list="${l.id}">
              <td class="num">${l.id}</td>
              <td>${l.account}</td>
              <td>${l.slug}</td>
              <td><a href="/admin/lists/${l.id}">${l.name}</a></td>
              <td class="num total">${total}</td>
              ${SUBSCRIBER_STATUSES.map((st) => html`<td class="num">${l.counts[st] ?? 0}</td>`)}
              <td>${when(l.created_at)}</td>
              <td>
                ${postButton(v, `/admin/lists/${l.id}/delete`, 'Delete', {
                  cls: 'danger',
                  confirm: `Delete list ${l.name} (${l.account}) and its ${total} subscribers? Its mailings and bounces stay.`,
                })}
              </td>
            </tr>`;
          })}
          ${rows.length ? '' : emptyRow(6 + SUBSCRIBER_STATUSES.length, 'No lists.')}
        </tbody>
      </table>
      ${older(rows, o.limit, { q: o.search })}`,
    { notice: o.notice },
  );
}

const fieldsOf = (params: Record<string, unknown>) =>
  Object.entries(params).map(
    ([k, val]) => html`<span class="field"><span class="muted">${k}</span> ${typeof val === 'string' ? val : JSON.stringify(val)}</span> `,
  );

export function listPage(
  v: Viewer,
  list: ListRow & { account: string },
  subscribers: SubscriberRow[],
  o: { filter: SubscriberFilterName; search?: string | undefined; limit: number; notice?: string | undefined },
): string {
  const filters = Object.keys(SUBSCRIBER_FILTERS).map((f) => html`<option value="${f}" ${f === o.filter ? html` selected` : ''}>${f}</option>`);
  const action = (s: SubscriberRow, name: string, label: string, confirm: string) =>
    postButton(v, `/admin/lists/${list.id}/subscribers/${s.id}/${name}`, label, { cls: 'plain', confirm });
  return page(
    v,
    'lists',
    `List ${list.name}`,
    html`<dl class="facts">
        <dt>Account</dt>
        <dd>${list.account}</dd>
        <dt>Slug</dt>
        <dd>${list.slug}</dd>
        <dt>Subscribers</dt>
        <dd id="subscriber-count">${list.subscribers}</dd>
        <dt>Created</dt>
        <dd>${when(list.created_at)}</dd>
      </dl>
      <h2>Import a CSV file</h2>
      <form class="bar" method="post" action="/admin/lists/${list.id}/import" enctype="multipart/form-data">
        ${csrfField(v)}
        <label
          >CSV file (a header row naming the fields, one of them email; UTF-8) <input type="file" name="file" accept=".csv,text/csv,text/plain" required
        /></label>
        <button type="submit">Import</button>
      </form>
      <h2>Subscribers</h2>
      <form class="bar" method="get">
        <label
          >Status
          <select name="status">
            ${filters}
          </select></label
        >
        <label>Address contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Filter</button>
      </form>
      <table id="subscribers">
        <thead>
          <tr>
            <th class="num">Id</th>
            <th>Address</th>
            <th>Status</th>
            <th>Fields</th>
            <th>Added</th>
            <th>Changed</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${subscribers.map(
            (s) =>
              html`<tr data-subscriber="${s.id}">
                <td class="num">${s.id}</td>
                <td class="email">${s.email}</td>
                <td>${s.status}${s.enabled ? '' : html` <span class="muted">(not mailed)</span>`}</td>
                <td>${fieldsOf(s.params)}</td>
                <td>${when(s.created_at)}</td>
                <td>${when(s.modified_at)}</td>
                <td>
                  ${s.status === 'unsubscribed' ? '' : action(s, 'unsubscribe', 'Unsubscribe', `Unsubscribe ${s.email} from this list?`)}
                  ${s.status === 'disabled' ? '' : action(s, 'remove', 'Remove', `Remove ${s.email}? It is kept, disabled, and never mailed from this list.`)}
                </td>
              </tr>`,
          )}
          ${subscribers.length ? '' : emptyRow(7, 'No subscribers.')}
        </tbody>
      </table>
      ${older(subscribers, o.limit, { status: o.filter === 'all' ? undefined : o.filter, q: o.search })}
      <p><a href="/admin/lists">Back to the lists</a></p>`,
    { notice: o.notice },
  );
}

export function importPage(v: Viewer, i: ImportView): string {
  const state = i.status === 'done' ? 'finished' : i.error ? 'stopped' : 'running';
  const live = state === 'running';
  return page(
    v,
    'lists',
    `Import ${i.id}`,
    html`<dl class="facts">
        <dt>File</dt>
        <dd>${i.file_name}</dd>
        <dt>Account</dt>
        <dd>${i.account}</dd>
        <dt>List</dt>
        <dd><a href="/admin/lists/${i.list_id}">${i.list_name}</a> (${i.list_slug})</dd>
        <dt>Revision</dt>
        <dd>${i.rev}</dd>
        <dt>Started</dt>
        <dd>${when(i.created_at)}</dd>
      </dl>
      <section id="import-progress" ${live ? html`data-live` : ''}>
        <dl class="facts">
          <dt>Status</dt>
          <dd class="state">${statusWord(state)}</dd>
          <dt>Records read</dt>
          <dd class="records">${i.records_done}</dd>
          <dt>Imported</dt>
          <dd class="imported">${i.inserted + i.updated} <span class="muted">(${i.inserted} new, ${i.updated} updated)</span></dd>
          <dt>Rejected</dt>
          <dd class="rejected">${i.rejected}</dd>
          <dt>Last change</dt>
          <dd>${when(i.updated_at)}</dd>
        </dl>
        ${
          i.error
            ? html`<p class="error" role="alert">${i.error}</p>
                <p class="muted">
                  The batches committed before it are in (the records counted as imported). Correct the file and upload it again; the same file unchanged would
                  resume where it stopped.
                </p>`
            : ''
        }
        ${
          i.rejects.length
            ? html`<h2>First rejected records</h2>
                <table id="rejects">
                  <thead>
                    <tr>
                      <th class="num">Line</th>
                      <th>Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${i.rejects.map(
                      (r) =>
                        html`<tr>
                          <td class="num">${r.line}</td>
                          <td>${r.reason}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
            : ''
        }
      </section>
      <p><a href="/admin/lists/${i.list_id}">Back to the list</a></p>`,
    { live },
  );
}

export function campaignsPage(
  v: Viewer,
  rows: CampaignSummary[],
  accounts: AccountRow[],
  o: { search?: string | undefined; limit: number; notice?: string | undefined },
): string {
  return page(
    v,
    'campaigns',
    'Transactional campaigns',
    html`<h2>New campaign from an html file</h2>
      <form class="bar" method="post" action="/admin/campaigns" enctype="multipart/form-data">
        ${csrfField(v)}
        <label
          >Account
          <select name="account" required>
            ${accountOptions(accounts)}
          </select></label
        >
        <label>Name (the campaign in transactional/NAME/send) <input name="name" required maxlength="200" /></label>
        <label>From address <input name="from" type="email" required /></label>
        <label>From name <input name="from_name" maxlength="200" /></label>
        <label>Subject <input name="subject" required maxlength="998" /></label>
        <label>Html file <input type="file" name="html" accept=".html,.htm,text/html" required /></label>
        <button type="submit">Create campaign</button>
      </form>
      <p class="muted">The text part is made from the html. Send through it with Sender's <code>POST /api/0/ACCOUNT/transactional/NAME/send</code>.</p>
      <form class="bar" method="get">
        <label>Name or subject contains <input name="q" value="${o.search ?? ''}" /></label><button type="submit">Search</button>
      </form>
      <table id="campaigns">
        <thead>
          <tr>
            <th class="num">Mailing</th>
            <th>Account</th>
            <th>Dialect</th>
            <th>Name</th>
            <th>Subject</th>
            <th>From</th>
            <th class="num">Messages</th>
            <th class="num">Sent</th>
            <th class="num">Pending</th>
            <th class="num">Deferred</th>
            <th class="num">Failed</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody id="campaigns-live" data-live>
          ${rows.map((c) => {
            const t = c.totals;
            const failed = t.error + t.timeout + t.general_error;
            return html`<tr data-campaign="${c.id}">
              <td class="num"><a href="/admin/mailings/${c.id}">${c.id}</a></td>
              <td>${c.account}</td>
              <td>${c.dialect}</td>
              <td class="name">${c.name ?? ''}</td>
              <td>${c.subject}</td>
              <td>${c.from_name ? `${c.from_name} <${c.from_email}>` : c.from_email}</td>
              <td class="num messages">${t.ready + t.warning + t.finished + failed}</td>
              <td class="num sent">${t.finished}</td>
              <td class="num">${t.ready}</td>
              <td class="num">${t.warning}</td>
              <td class="num">${failed}</td>
              <td>${when(c.submit_time)}</td>
            </tr>`;
          })}
          ${rows.length ? '' : emptyRow(12, 'No transactional campaigns.')}
        </tbody>
      </table>
      ${older(rows, o.limit, { q: o.search })}`,
    { notice: o.notice, live: true },
  );
}
