/**
 * Status feed cursors: opaque, signed (HMAC-SHA256 with the installation's secret, kept in the database so
 * every node and every restart accepts them), carrying a feed position `(xid, seq)`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FeedPosition } from '../../db/recipients.js';

export const FEED_START: FeedPosition = { xid: '0', seq: 0 };

export function cursorCodec(secret: Buffer) {
  const sign = (body: string) => createHmac('sha256', secret).update(`feed:${body}`).digest().subarray(0, 12).toString('base64url');
  return {
    encode(p: FeedPosition): string {
      const body = `${p.xid}.${p.seq}`;
      return `${body}.${sign(body)}`;
    },
    /** '' is the start of the feed; anything unsigned or altered is null (not ours to trust). */
    decode(cursor: string): FeedPosition | null {
      if (cursor === '') return FEED_START;
      const m = /^(\d{1,20})\.(\d{1,19})\.([A-Za-z0-9_-]{16})$/.exec(cursor);
      if (m) {
        const body = `${m[1]}.${m[2]}`;
        const want = Buffer.from(sign(body));
        const got = Buffer.from(m[3]!);
        if (want.length === got.length && timingSafeEqual(want, got)) return { xid: m[1]!, seq: Number(m[2]) };
      }
      return null;
    },
  };
}
