/**
 * The admin pages as HTML, through `html` (html.ts): every value printed is escaped. Each page is a function
 * of what its route read from the core; the layout adds the navigation, the operator and the logout form.
 * Every row of an object names its account (operators see all accounts).
 */
import type { MailingView } from '../../core/mailings/service.js';
import type { MailingSummary, Progress } from '../../core/overview/service.js';
import type { CapturedMessage } from '../../core/outbox/service.js';
import type { MessageSummary } from '../../core/mailings/message.js';
import type { BounceSummaryRow, RecipientSummaryRow, SuppressionSummaryRow } from '../../db/overview.js';
import type { AccountRow, ApiKeyRow } from '../../db/accounts.js';
import type { NewKey } from '../../core/accounts/service.js';
import { html, type Html } from './html.js';
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
  ['outbox', 'Outbox'],
  ['lists', 'Lists'],
  ['campaigns', 'Campaigns'],
] as const;
type Section = (typeof NAV)[number][0];

const when = (d: Date | null | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '');

export const csrfField = (v: Viewer) => (v.kind === 'operator' ? html`<input type="hidden" name="csrf" value="${v.csrf}" />` : html``);

function document(title: string, body: Html, head: Html = html``): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Mailgate</title>
        <link rel="stylesheet" href="/admin/assets/admin.css" />
        ${head}
        <script src="/admin/assets/admin.js" defer></script>
      </head>
      <body>
        ${body}
      </body>
    </html>`.text;
}

export function page(viewer: Viewer, section: Section, title: string, body: Html, opts: { notice?: string | undefined; live?: boolean } = {}): string {
  const nav =
    viewer.kind === 'operator'
      ? html`<nav>${NAV.map(([key, label]) => html`<a href="/admin/${key}" ${key === section ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
          <span class="muted">${viewer.login}</span>
          <form method="post" action="/admin/logout">${csrfField(viewer)}<button class="plain" type="submit">Log out</button></form>`
      : html`<nav><a href="/admin/outbox" aria-current="page">Outbox</a></nav>
          <span class="muted">account ${viewer.account} (API key)</span>`;
  // Without JavaScript, pages with live parts reload themselves.
  const head = opts.live ? html`<noscript><meta http-equiv="refresh" content="5" /></noscript>` : html``;
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
                <td>${k.label ?? ''}</td>
                <td>${k.revoked_at ? html`<span class="muted">revoked ${when(k.revoked_at)}</span>` : 'active'}</td>
                <td>${when(k.created_at)}</td>
                <td>${when(k.last_used_at)}</td>
                <td>
                  ${k.revoked_at ? '' : html`<form class="inline" method="post" action="/admin/keys/${k.id}/revoke">${csrfField(v)}<button class="danger" type="submit" data-confirm="Revoke key ${k.id}? Clients using it are refused at once.">Revoke</button></form>`}
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
                <td>${when(m.submit_time)}</td>
              </tr>`,
          )}
          ${
            rows.length
              ? ''
              : html`<tr>
                  <td colspan="11" class="muted">No mailings.</td>
                </tr>`
          }
        </tbody>
      </table>
      ${older(rows, o.limit, { q: o.search })}`,
    { live: true },
  );
}

type MailingDetail = MailingView & { account: string; progress: Progress };

function mailingActions(v: Viewer, m: MailingDetail): Html {
  const action = (name: string, label: string, cls = '', confirm?: string) =>
    html`<form class="inline" method="post" action="/admin/mailings/${m.id}/${name}">
      ${csrfField(v)}<button type="submit" class="${cls}" ${confirm ? html` data-confirm="${confirm}"` : ''}>${label}</button>
    </form>`;
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
  o: { filter: RecipientFilterName; search?: string | undefined; limit: number; notice?: string | undefined },
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
        ${mailingActions(v, m)}
      </section>
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
          ${
            recipients.length
              ? ''
              : html`<tr>
                  <td colspan="5" class="muted">No recipients.</td>
                </tr>`
          }
        </tbody>
      </table>
      ${older(recipients, o.limit, { status: o.filter === 'all' ? undefined : o.filter, q: o.search })}`,
    { notice: o.notice, live: m.status !== 'finished' },
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
          ${
            rows.length
              ? ''
              : html`<tr>
                  <td colspan="10" class="muted">No bounces.</td>
                </tr>`
          }
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
          ${
            rows.length
              ? ''
              : html`<tr>
                  <td colspan="6" class="muted">No suppressions.</td>
                </tr>`
          }
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
          ${
            messages.length
              ? ''
              : html`<tr>
                  <td colspan="6" class="muted">No messages.</td>
                </tr>`
          }
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
                <form class="inline" method="post" action="/admin/lists/${l.id}/delete">
                  ${csrfField(v)}<button
                    class="danger"
                    type="submit"
                    data-confirm="${`Delete list ${l.name} (${l.account}) and its ${total} subscribers? Its mailings and bounces stay.`}"
                  >
                    Delete
                  </button>
                </form>
              </td>
            </tr>`;
          })}
          ${
            rows.length
              ? ''
              : html`<tr>
                  <td colspan="${6 + SUBSCRIBER_STATUSES.length}" class="muted">No lists.</td>
                </tr>`
          }
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
    html`<form class="inline" method="post" action="/admin/lists/${list.id}/subscribers/${s.id}/${name}">
      ${csrfField(v)}<button class="plain" type="submit" data-confirm="${confirm}">${label}</button>
    </form>`;
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
          ${
            subscribers.length
              ? ''
              : html`<tr>
                  <td colspan="7" class="muted">No subscribers.</td>
                </tr>`
          }
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
          ${
            rows.length
              ? ''
              : html`<tr>
                  <td colspan="12" class="muted">No transactional campaigns.</td>
                </tr>`
          }
        </tbody>
      </table>
      ${older(rows, o.limit, { q: o.search })}`,
    { notice: o.notice, live: true },
  );
}
