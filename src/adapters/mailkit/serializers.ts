/**
 * Core rows to Mailkit records. A record is built once as typed fields and written in each encoding as
 * Mailkit writes it: report records carry strings in JSON (the seed: `"ID_MESSAGE": "12345"`) and `<i4>`
 * integers / `<string>`s in XML-RPC, members in the seed's order.
 */
import type { BounceRow } from '../../core/bounces/service.js';

export type Encoding = 'json' | 'xml';

/** A field: a name, and an integer (ids, counts) or a text. Null is written as 0 / '' ("not set"). */
export type Field = readonly [name: string, kind: 'int' | 'text', value: number | string | null];

/** One record in one encoding: JSON strings everywhere, XML typed. */
export function record(fields: readonly Field[], encoding: Encoding): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, kind, value] of fields) {
    if (encoding === 'json') out[name] = value === null ? (kind === 'int' ? '' : '') : String(value);
    else out[name] = kind === 'int' ? Number(value ?? 0) : String(value ?? '');
  }
  return out;
}

/** mailkit.report.raw.bounces: one bounce, fields and order exactly as the seed (ID_SEND_MESSGE sic). */
export function rawBounceFields(b: BounceRow): Field[] {
  return [
    ['ID_MESSAGE', 'int', b.mailing_id],
    ['TEXT_STATUS', 'text', b.text_status],
    ['STATUS', 'text', b.enhanced_status],
    ['ID_EMAIL', 'int', b.email_id],
    ['ID_SEND', 'int', b.send_id],
    ['EMAIL', 'text', b.email],
    ['ID_SEND_MESSGE', 'int', b.recipient_id],
    ['ID_USER_LIST', 'int', b.list_id],
    ['REMOTE_MTA', 'text', b.remote_mta],
    ['ID_UNDELIVERED_LOG', 'int', b.id],
    ['RECIPIENT_STATUS', 'text', b.kind],
  ];
}
