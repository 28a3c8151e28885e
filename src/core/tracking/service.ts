/**
 * Hosted tracking: the pixel's and the links' tokens checked without the database (src/core/delivery/tokens.ts),
 * and each open and click recorded as an event with its verdict (verdict.ts). The adapter answers the request
 * first and records after: recording never delays the pixel or the redirect, and its failure (the database
 * down) loses that one event, which the adapter logs. No retry queue: one kept in memory dies with the process
 * anyway, and an event recorded minutes late would be judged against the wrong clock.
 */
import type { Store } from '../../db/store.js';
import { verifyClickToken, verifyOpenToken } from '../delivery/tokens.js';
import { defaultRules, judge, networks, type VerdictRules } from './verdict.js';

export interface TrackingSettings {
  tooSoonSeconds: number;
  burstMs: number;
  appleNetworks: readonly string[];
  scannerNetworks: readonly string[];
}

/** One request of the pixel or of a link, as the adapter saw it. */
export interface TrackingRequest {
  recipientId: number;
  method: 'GET' | 'HEAD';
  ip: string | null;
  userAgent: string | null;
  at: Date;
}

export function trackingService(deps: { store: Store; secret: Buffer; settings?: TrackingSettings | undefined }) {
  const { store, secret } = deps;
  const rules: VerdictRules = deps.settings
    ? {
        tooSoonSeconds: deps.settings.tooSoonSeconds,
        burstMs: deps.settings.burstMs,
        appleNetworks: networks(deps.settings.appleNetworks),
        scannerNetworks: networks(deps.settings.scannerNetworks),
      }
    : defaultRules();

  return {
    /** The recipient of a genuine pixel token (without `.gif`), else null. */
    openRecipient: (token: string): number | null => verifyOpenToken(secret, token),

    /** The recipient and link of a genuine click token for exactly this URL, else null. */
    clickOf: (token: string, url: string) => verifyClickToken(secret, token, url),

    /** Record an open; null when the recipient no longer exists. */
    recordOpen: (r: TrackingRequest) =>
      store.hits.record({ ...r, kind: 'open' }, rules.burstMs, (recipient) =>
        judge({ ...r, kind: 'open' }, { deliveredAt: recipient.deliveredAt, recentClicks: [] }, rules),
      ),

    /** Record a click of link `linkIndex` (to `url`); null when the recipient no longer exists. */
    recordClick: (r: TrackingRequest, linkIndex: number, url: string) =>
      store.hits.record({ ...r, kind: 'click', link: url, linkIndex }, rules.burstMs, (recipient, recentClicks) =>
        judge({ ...r, kind: 'click', linkIndex }, { deliveredAt: recipient.deliveredAt, recentClicks }, rules),
      ),
  };
}
export type TrackingService = ReturnType<typeof trackingService>;
