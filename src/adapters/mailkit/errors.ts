/**
 * Mailkit errors are texts, not codes: JSON answers `{"error_status": 1, "error": "<text>"}` in an HTTP 200,
 * XML-RPC a normal methodResponse whose value is the plain text (igloonet's client recognises an error so; a
 * fault is a transport failure to it). The texts are Mailkit's own where they are known.
 */
import { isDomainError, unavailability, type DomainErrorCode, type Unavailability } from '../../core/errors.js';

export class MailkitError extends Error {
  constructor(readonly text: string) {
    super(text);
    this.name = 'MailkitError';
  }
}

export const UNAUTHORIZED = 'Unauthorized';
export const UNKNOWN_FUNCTION = 'Unknown function';
export const INTERNAL = 'Internal error';

/** Every domain error code, as Mailkit words an error of that kind when a function has no better text. */
export const DOMAIN_ERROR_TEXTS: Record<DomainErrorCode, string> = {
  NOT_FOUND: 'Not found',
  INVALID_ARGUMENT: 'Invalid parameter',
  FORBIDDEN_STATE: 'Not allowed now',
  BAD_REQUEST: 'Bad request',
  CONFLICT: 'Already exists',
};

/**
 * Core field names as Mailkit's parameters. A field not named here is no parameter of Mailkit's (the core's
 * own names, `fromEmail` of a mailing the gateway made itself): the text leaves it out.
 */
const FIELD_NAMES: Record<string, string> = { email: 'email', limit: 'limit', name: 'name', mailingId: 'ID_message', sendId: 'ID_send' };

/** A core "not found" for the list named by `name` becomes Mailkit's `Invalid <name>`. */
export async function onList<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isDomainError(e) && e.code === 'NOT_FOUND') throw new MailkitError(`Invalid ${name}`);
    throw e;
  }
}

/** The database cannot serve now (disk full, restarting...): an error like any other, saying why. */
export const unavailableText = (u: Unavailability) => `Service unavailable: ${u.message}`;

/**
 * The text of any error; `internal` tells the caller to log it (its message is never sent), `unavailable`
 * to log that line instead.
 */
export function errorText(e: unknown): { text: string; internal: boolean; unavailable?: Unavailability } {
  if (e instanceof MailkitError) return { text: e.text, internal: false };
  const u = unavailability(e);
  if (u) return { text: unavailableText(u), internal: false, unavailable: u };
  if (isDomainError(e)) {
    const field = e.field && Object.hasOwn(FIELD_NAMES, e.field) ? FIELD_NAMES[e.field]! : null;
    return { text: field ? `${DOMAIN_ERROR_TEXTS[e.code]} ${field}: ${e.message}` : `${DOMAIN_ERROR_TEXTS[e.code]}: ${e.message}`, internal: false };
  }
  return { text: INTERNAL, internal: true };
}
