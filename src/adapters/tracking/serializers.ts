/** The public links' answers: small HTML pages for a person, every value from the core escaped; the pixel. */
import type { Response } from 'express';
import { escapeHtml } from '../../core/delivery/template.js';

/** A 1x1 transparent GIF (42 bytes). */
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Nobody keeps a tracking answer: each open and click comes here again. */
export function noCache(res: Response): void {
  res.set({ 'Cache-Control': 'no-cache, no-store, must-revalidate, private, max-age=0', Pragma: 'no-cache', Expires: '0' });
}

export function pixel(res: Response): void {
  noCache(res);
  res
    .status(200)
    .set({ 'Content-Type': 'image/gif', 'Content-Length': String(GIF.length) })
    .end(GIF);
}

export function redirect(res: Response, url: string): void {
  noCache(res);
  res.redirect(302, url);
}

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
