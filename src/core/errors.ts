/**
 * Domain errors: a closed set of codes, the ones the core raises. Every dialect maps every code in a table
 * typed `Record<DomainErrorCode, ...>`, so a new code does not compile until each dialect says how it spells
 * it. Answers that are no domain error (a dialect's own auth failures, a body over the size limit) are each
 * adapter's own.
 *
 * A refused argument names the field at fault (the core's name; each dialect spells it) and, where a dialect
 * words that kind of refusal its own way, a `reason` (Emailicious answers Django REST Framework's messages);
 * the message says the same in neutral English for every other reader.
 */
export const DOMAIN_ERROR_CODES = ['NOT_FOUND', 'INVALID_ARGUMENT', 'FORBIDDEN_STATE', 'BAD_REQUEST', 'CONFLICT'] as const;
export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

/** Why an argument was refused, for the dialects that word each kind their own way. */
export type Reason =
  /** Absent or empty; `because` says why it is needed when that is not obvious. */
  | { kind: 'required'; because?: string }
  /** Only blanks. */
  | { kind: 'blank' }
  /** Not an e-mail address. */
  | { kind: 'email' }
  /** A number below `min`. */
  | { kind: 'min'; min: number }
  /** The id of an object that does not exist (or is not the caller's). */
  | { kind: 'unknown'; id: number | string }
  /** Another object of its kind has this value already. */
  | { kind: 'taken' };
export type ReasonKind = Reason['kind'];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The argument or property at fault, when there is one. */
    readonly field?: string,
    readonly reason?: Reason,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: unknown) => new DomainError('NOT_FOUND', `${what} ${String(id)} not found`);
export const invalid = (message: string, field?: string, reason?: Reason) => new DomainError('INVALID_ARGUMENT', message, field, reason);
export const forbiddenState = (message: string) => new DomainError('FORBIDDEN_STATE', message);
export const badRequest = (message: string) => new DomainError('BAD_REQUEST', message);
export const conflict = (message: string, field?: string) => new DomainError('CONFLICT', message, field);

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
