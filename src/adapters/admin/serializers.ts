/** The admin pages as HTML; every value from a message escaped. */
import { escapeHtml } from '../../core/delivery/template.js';
import type { CapturedMessage } from '../../core/outbox/service.js';

/** One outbox page: the messages, newest first, with a link to the older ones when the page is full. */
export function outboxPage(messages: CapturedMessage[], total: number, pageSize: number): string {
  const items = messages
    .map(
      (r) =>
        `<tr><td><a href="outbox/${r.id}">${r.id}</a></td><td>${r.received_at.toISOString()}</td><td>${escapeHtml(r.envelope_to.join(', '))}</td><td>${escapeHtml(r.subject ?? '')}</td></tr>`,
    )
    .join('');
  const more = messages.length === pageSize ? `<p><a href="?before=${messages[messages.length - 1]!.id}">older</a></p>` : '';
  return `<!doctype html><meta charset="utf-8"><title>Mailgate outbox</title><h1>Outbox (SMTP capture)</h1><p>${total} messages kept; nothing was relayed.</p><table><tr><th>#</th><th>received</th><th>to</th><th>subject</th></tr>${items}</table>${more}`;
}
