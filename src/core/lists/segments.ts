/**
 * Segments of a list (see db/segments.ts): made by the operator (`mailgate segments create`), named by id in
 * a mailing's `segments` and a delivery's `exclusions`. A condition is a field of the subscribers' params and
 * the value it must have.
 */
import type { CallContext } from '../context.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { SegmentRow } from '../../db/segments.js';

export type { SegmentRow };

export function segmentsService(deps: { store: Store }) {
  const { store } = deps;
  return {
    async create(ctx: CallContext, listId: number, name: string, conditions: Record<string, unknown>): Promise<number> {
      if (!name.trim()) throw invalid('a segment name is required', 'name');
      if (!(await store.lists.exists(ctx.accountId, listId))) throw notFound('list', listId);
      const id = await store.segments.create(ctx.accountId, listId, name.trim(), conditions);
      if (id === undefined) throw conflict(`list ${listId} has a segment named ${JSON.stringify(name.trim())} already`, 'name');
      return id;
    },
    list: (ctx: CallContext, listId: number | null) => store.segments.list(ctx.accountId, listId),
    async delete(ctx: CallContext, id: number): Promise<void> {
      if (!(await store.segments.delete(ctx.accountId, id))) throw notFound('segment', id);
    },
  };
}
