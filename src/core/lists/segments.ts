/**
 * Segments of a list (see db/segments.ts): made by the operator (`mailgate segments create`, or the admin
 * page), named by id in a mailing's `segments` and a delivery's `exclusions`. A condition is a field of the
 * subscribers' params and the value it must have. No dialect makes them.
 */
import type { CallContext } from '../context.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { SegmentListChoice, SegmentMemberRow, SegmentOverviewRow, SegmentRow } from '../../db/segments.js';

export type { SegmentListChoice, SegmentMemberRow, SegmentOverviewRow, SegmentRow };

/**
 * Conditions written as `field=value` (one a command-line argument, or a line of the admin form): the text
 * before the first `=` is the field, the rest its value; a field given twice keeps its last value.
 */
export function parseConditions(lines: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const c of lines) {
    const eq = c.indexOf('=');
    if (eq < 1) throw invalid(`${c}: a condition is field=value`, 'conditions');
    fields[c.slice(0, eq)] = c.slice(eq + 1);
  }
  return fields;
}

export function segmentsService(deps: { store: Store }) {
  const { store } = deps;
  async function create(ctx: CallContext, listId: number, name: string, conditions: Record<string, unknown>): Promise<number> {
    if (!name.trim()) throw invalid('a segment name is required', 'name');
    if (!(await store.lists.exists(ctx.accountId, listId))) throw notFound('list', listId);
    const id = await store.segments.create(ctx.accountId, listId, name.trim(), conditions);
    if (id === undefined) throw conflict(`list ${listId} has a segment named ${JSON.stringify(name.trim())} already`, 'name');
    return id;
  }
  return {
    create,
    list: (ctx: CallContext, listId: number | null) => store.segments.list(ctx.accountId, listId),
    async delete(ctx: CallContext, id: number): Promise<void> {
      if (!(await store.segments.delete(ctx.accountId, id))) throw notFound('segment', id);
    },

    // --- the operator's view: every account in scope (null: all) -------------------------------------------

    /** Every segment, with its account, its list and how many subscribers it matches now. */
    overview: (scope: number | null) => store.segments.overview(scope),
    async get(scope: number | null, id: number): Promise<SegmentOverviewRow> {
      const s = await store.segments.overviewOne(scope, id);
      if (!s) throw notFound('segment', id);
      return s;
    },
    /** The lists a segment may be made of. */
    listChoices: (scope: number | null) => store.segments.listChoices(scope),
    /** The subscribers the segment matches now (any status), newest first, a page at a time. */
    async members(scope: number | null, id: number, page: { beforeId?: number | undefined; limit: number }): Promise<SegmentMemberRow[]> {
      const s = await store.segments.overviewOne(scope, id);
      if (!s) throw notFound('segment', id);
      return await store.segments.members(s.id, page);
    },
    /**
     * A segment of a list of any account in scope, its conditions as `field=value` lines: the same checks and
     * messages as the command line's, nothing stored when one fails.
     */
    async createFromLines(scope: number | null, requestId: string, listId: number, name: string, lines: readonly string[]): Promise<number> {
      if (!lines.length) throw invalid('a segment needs at least one condition (field=value)', 'conditions');
      const conditions = parseConditions(lines);
      const list = (await store.segments.listChoices(scope)).find((l) => l.id === listId);
      if (!list) throw notFound('list', listId);
      return await create({ accountId: list.account_id, requestId }, listId, name, conditions);
    },
    /** Deletes a segment of any account in scope. */
    async deleteAny(scope: number | null, id: number): Promise<void> {
      const s = await store.segments.overviewOne(scope, id);
      if (!s) throw notFound('segment', id);
      if (!(await store.segments.delete(s.account_id, id))) throw notFound('segment', id);
    },
  };
}
