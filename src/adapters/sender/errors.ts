/**
 * Sender's error answers. The maillist pages answer `{"result": {"status": "ERROR", "error": {"detail": "..."}}}`
 * (400 `Wrong email format`, 404 `Email is not in maillist.`); validation of a named field is Django REST
 * Framework's `{"result": {"status": "ERROR", "error": {"<field>": ["..."]}}}`; the unsubscribe lists answer
 * their 404 as a bare `{"detail": "..."}`. Real clients only look at the HTTP status (>= 400 is an error)
 * and, for logging, at `result.error` / `result.message`.
 */
import { isDomainError, unavailability, type DomainError, type DomainErrorCode, type Unavailability } from '../../core/errors.js';

export type SenderErrorBody = Record<string, unknown>;

export class SenderError extends Error {
  constructor(
    readonly status: number,
    readonly body: SenderErrorBody,
  ) {
    super(JSON.stringify(body));
  }
  static detail(status: number, detail: string): SenderError {
    return new SenderError(status, { result: { status: 'ERROR', error: { detail } } });
  }
  static field(field: string, message: string): SenderError {
    return new SenderError(400, { result: { status: 'ERROR', error: { [field]: [message] } } });
  }
  /** The unsubscribe lists' bare DRF shape. */
  static bare(status: number, detail: string): SenderError {
    return new SenderError(status, { detail });
  }
}

export const WRONG_EMAIL = () => SenderError.detail(400, 'Wrong email format');
export const NOT_IN_MAILLIST = () => SenderError.detail(404, 'Email is not in maillist.');
export const NO_MAILLIST = () => SenderError.detail(404, 'Maillist not found.');
export const CAMPAIGN_NOT_FOUND = () => SenderError.detail(404, 'Campaign not found');
export const NOT_AUTHENTICATED = () => SenderError.detail(401, 'Authentication credentials were not provided.');
export const BAD_KEY = () => SenderError.detail(401, 'API key is not valid');
export const FORBIDDEN = () => SenderError.detail(403, 'You do not have permission to perform this action.');

/**
 * Core field names as Sender's parameters. A field not named here is no parameter of Sender's (the core's own
 * names, `fromEmail` of a mailing the gateway made itself): its error is answered as a `detail`, never under
 * that name.
 */
const FIELD_NAMES: Record<string, string> = { items: 'items', rev: 'rev', to: 'to', slug: 'slug', name: 'title' };

/** Every domain error code, as Sender answers an error of that kind. */
const DOMAIN_ERRORS: Record<DomainErrorCode, (e: DomainError) => SenderError> = {
  NOT_FOUND: (e) => SenderError.detail(404, e.message[0]!.toUpperCase() + e.message.slice(1) + '.'),
  INVALID_ARGUMENT(e) {
    const field = e.field && Object.hasOwn(FIELD_NAMES, e.field) ? FIELD_NAMES[e.field]! : undefined;
    if (field) return SenderError.field(field, e.message);
    return e.field === 'email' || /email address/.test(e.message) ? WRONG_EMAIL() : SenderError.detail(400, e.message);
  },
  FORBIDDEN_STATE: (e) => SenderError.detail(400, e.message),
  BAD_REQUEST: (e) => SenderError.detail(400, e.message),
  CONFLICT: (e) => SenderError.detail(409, e.message),
};

/** The unsubscribe family answers errors as DRF's bare `{"detail": ...}`, as the unsubscribe page shows for its 404. */
export function unsubscribeError(e: unknown): unknown {
  if (isDomainError(e) && e.code === 'INVALID_ARGUMENT' && e.field === 'email') return SenderError.bare(400, 'Wrong email format');
  if (isDomainError(e) && e.code === 'NOT_FOUND') return SenderError.bare(404, 'Not found.');
  return e;
}

/**
 * The database cannot serve now (disk full, restarting, unreachable): 503 in the shape of Sender's own
 * failures (`result.message`, as its 500), saying why.
 */
export const UNAVAILABLE = (u: Unavailability) => new SenderError(503, { result: { status: 'ERROR', message: `Service unavailable: ${u.message}` } });

/** A core error as Sender answers it, or the database unavailable; anything else is rethrown (a 500). */
export function senderErrorOf(e: unknown): SenderError {
  if (e instanceof SenderError) return e;
  const u = unavailability(e);
  if (u) return UNAVAILABLE(u);
  if (!isDomainError(e)) throw e;
  return DOMAIN_ERRORS[e.code](e);
}
