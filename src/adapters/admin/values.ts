/** Reading the admin pages' requests: anything that is not a positive number reads as none. */
import type { Request } from 'express';

/** `?before=<id>`: the outbox page of the messages older than that one. */
export const beforeOf = (req: Request): number | undefined => Number(req.query.before) || undefined;

/** The message id in the path; 0 (no message) when it is not a number. */
export const messageIdOf = (req: Request): number => Number(req.params.id) || 0;
