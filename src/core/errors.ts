/**
 * Domain errors: a closed set of codes. Every dialect maps every code in a table typed
 * `Record<DomainErrorCode, ...>`, so a new code does not compile until each dialect says how it spells it.
 */
export const DOMAIN_ERROR_CODES = [
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'FORBIDDEN_STATE',
  'BAD_REQUEST',
  'CONFLICT',
  'TOO_LARGE',
  'UNAUTHENTICATED',
  'UNAVAILABLE',
] as const;
export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The argument or property at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: unknown) => new DomainError('NOT_FOUND', `${what} ${String(id)} not found`);
export const invalid = (message: string, field?: string) => new DomainError('INVALID_ARGUMENT', message, field);
export const forbiddenState = (message: string) => new DomainError('FORBIDDEN_STATE', message);
export const badRequest = (message: string) => new DomainError('BAD_REQUEST', message);
export const conflict = (message: string, field?: string) => new DomainError('CONFLICT', message, field);

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
