/** The public links' answers: small HTML pages for a person, every value from the core escaped. */
import { escapeHtml } from '../../core/delivery/template.js';

export const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>` +
  `<body style="font-family:sans-serif;max-width:36em;margin:3em auto"><h1>${title}</h1>${body}</body></html>`;

/** The unsubscribe link's GET: a button, never the act itself (mail scanners follow GET links). */
export const unsubscribePrompt = (email: string) =>
  page(
    'Unsubscribe',
    `<p>Stop these mailings to <b>${escapeHtml(email)}</b>?</p><form method="post"><button type="submit" name="confirm" value="1">Unsubscribe</button></form>`,
  );

export const unsubscribed = () => page('Unsubscribed', '<p>You will not receive these mailings any more.</p>');

export function confirmation(r: { state: string; email: string; list: string }): string {
  const what = `<b>${escapeHtml(r.email)}</b> will receive <b>${escapeHtml(r.list)}</b>.`;
  return r.state === 'confirmed'
    ? page('Subscription confirmed', `<p>Thank you: ${what}</p>`)
    : page('Already confirmed', `<p>This subscription was already confirmed: ${what}</p>`);
}
