/**
 * The Mailkit function table: name -> its parameters (XML-RPC positions after client_id and client_md5; JSON
 * `parameters` keys) and a handler of a few lines that reads them the lenient way real clients need (numbers
 * as strings or numbers or untyped values; an optional id given as "", 0 or left out means "not narrowed"),
 * calls the core and builds the reply for the call's encoding.
 */
import type { CallContext } from '../../core/context.js';
import { RAW_LOG_MAX } from '../../core/bounces/service.js';
import type { AdapterDeps } from '../types.js';
import type { RpcValue } from '../rpc/values.js';
import { MailkitError } from './errors.js';
import { rawBounceFields, record, type Encoding } from './serializers.js';

export type MailkitArgs = Record<string, RpcValue | undefined>;

export interface MailkitCtx {
  call: CallContext;
  deps: AdapterDeps;
  encoding: Encoding;
}

export interface MailkitFunction {
  /** Parameter names in XML-RPC order (after client_id, client_md5); JSON takes them by name. */
  params: readonly string[];
  handler(ctx: MailkitCtx, args: MailkitArgs): Promise<unknown>;
}

const INTEGER = /^\s*[+-]?\d{1,15}\s*$/;

/** An optional id: "", 0, "0" or absent = null (not narrowed); else a positive integer, or the named error. */
export function optionalId(v: RpcValue | undefined, name: string): number | null {
  if (v === undefined || v === null || v === '' || v === 0 || v === '0') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && INTEGER.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new MailkitError(`Invalid ${name}`);
  return n === 0 ? null : n;
}

/** A count with a default and a maximum; above the maximum is an error, as Mailkit answers it. */
export function countOf(v: RpcValue | undefined, name: string, dflt: number, max: number): number {
  const n = optionalId(v, name) ?? dflt;
  if (n > max) throw new MailkitError(`Invalid ${name}: at most ${max}`);
  return n;
}

export const FUNCTIONS: Record<string, MailkitFunction> = {
  'mailkit.report.raw.bounces': {
    params: ['ID_message', 'ID_send', 'ID_undelivered_log', 'limit'],
    async handler({ call, deps, encoding }, a) {
      const mailingId = optionalId(a.ID_message, 'ID_message');
      const sendId = optionalId(a.ID_send, 'ID_send');
      const from = optionalId(a.ID_undelivered_log, 'ID_undelivered_log') ?? 1;
      const limit = countOf(a.limit, 'limit', RAW_LOG_MAX, RAW_LOG_MAX);
      const rows = await deps.core.bounces.log(call, { mailingId, sendId }, from, limit);
      return rows.map((b) => record(rawBounceFields(b), encoding));
    },
  },
};
