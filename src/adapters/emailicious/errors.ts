/**
 * Emailicious' error answers, Django REST Framework's shapes: 400 `{"<field>": ["message"]}` nested as the
 * request is (`{"variants": [{}, {"layout": {"zip_file": ["..."]}}]}`), `{"non_field_errors": [...]}` for the
 * whole object, `{"detail": "..."}` for 401, 404 (`Not found.`), 405, 413 and 415; a 409 carries the
 * conflicting subscriber as its body.
 */
import { isDomainError, unavailability, type DomainError, type DomainErrorCode, type Reason, type ReasonKind, type Unavailability } from '../../core/errors.js';

export type ErrorBody = Record<string, unknown>;

export class EmailiciousError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(JSON.stringify(body));
  }
}

export const NOT_FOUND = () => new EmailiciousError(404, { detail: 'Not found.' });
/** The database cannot serve now (disk full, restarting, unreachable): DRF's 503 `{"detail": ...}`, saying why. */
export const UNAVAILABLE = (u: Unavailability) => new EmailiciousError(503, { detail: `Service unavailable: ${u.message}.` });

type Path = (string | number)[];

/** `variants.1.layout.zip_file` → ['variants', 1, 'layout', 'zip_file']. */
export const pathOf = (field: string): Path => field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/** Field errors collected as DRF nests them: objects for fields, arrays (items without errors `{}`) for indexes. */
export class FieldErrors {
  private readonly root: Record<string, unknown> = {};
  private count = 0;

  add(path: Path, message: string): void {
    this.count++;
    // A message about one item of a list of values (`segments.1`) is the list's.
    const p = [...path];
    while (p.length > 1 && typeof p[p.length - 1] === 'number') p.pop();
    let node = this.root as Record<string | number, unknown>;
    for (let i = 0; i < p.length; i++) {
      const seg = p[i]!;
      if (i === p.length - 1) {
        const list = Array.isArray(node[seg]) ? (node[seg] as unknown[]) : [];
        list.push(message);
        node[seg] = list;
        return;
      }
      const next = p[i + 1];
      if (typeof next === 'number') {
        const items = Array.isArray(node[seg]) ? (node[seg] as Record<string, unknown>[]) : [];
        node[seg] = items;
        while (items.length <= next) items.push({});
        node = items[next]!;
        i++;
      } else {
        if (typeof node[seg] !== 'object' || node[seg] === null || Array.isArray(node[seg])) node[seg] = {};
        node = node[seg] as Record<string, unknown>;
      }
    }
  }

  get empty(): boolean {
    return this.count === 0;
  }

  error(): EmailiciousError {
    return new EmailiciousError(400, this.root);
  }

  /** Throws the collected errors, if any. */
  check(): void {
    if (!this.empty) throw this.error();
  }
}

/** Each reason the core gives for a refused argument, in Django REST Framework's words. */
const DRF_MESSAGES: { [K in ReasonKind]: (r: Extract<Reason, { kind: K }>, at: { field: string; model: string }) => string } = {
  required: (r) => (r.because ? `This field is required (${r.because}).` : 'This field is required.'),
  blank: () => 'This field may not be blank.',
  email: () => 'Enter a valid email address.',
  min: (r) => `Ensure this value is greater than or equal to ${r.min}.`,
  unknown: (r) => `Invalid pk "${r.id}" - object does not exist.`,
  taken: (_r, at) => `${at.model} with this ${at.field} already exists.`,
};

function drfMessage(e: DomainError, model: string): string {
  if (!e.reason) return e.message;
  const at = { field: String(pathOf(e.field ?? '').at(-1) ?? ''), model };
  return (DRF_MESSAGES[e.reason.kind] as (r: Reason, at: { field: string; model: string }) => string)(e.reason, at);
}

/**
 * Emailicious' own field names (of its lists, subscribers, mailings, variants, layouts and deliveries): a
 * field path answered under its name is made of these and indexes only. Any other name is the core's own
 * (`fromEmail` of a mailing the gateway made itself), and its error is the object's, in `non_field_errors`.
 */
const FIELD_NAMES = new Set([
  ...['name', 'default_from_name', 'default_from_email', 'default_replyto_email', 'default_language', 'languages'],
  ...['email', 'subscription', 'first_name', 'last_name', 'gender', 'date_of_birth', 'language', 'region'],
  ...['list', 'campaign', 'segments', 'variants', 'from_name', 'from_email', 'replyto_email', 'subject'],
  ...['layout', 'zip_file', 'text', 'source', 'deliveries', 'scheduled_datetime', 'limit', 'exclusions'],
]);
const isOwnField = (field: string) => pathOf(field).every((p) => typeof p === 'number' || FIELD_NAMES.has(p));

function fieldError(e: DomainError, model: string): EmailiciousError {
  if (!e.field) return new EmailiciousError(400, { non_field_errors: [drfMessage(e, model)] });
  // DRF's words for a taken value name the field: the neutral message then.
  if (!isOwnField(e.field)) return new EmailiciousError(400, { non_field_errors: [e.reason?.kind === 'taken' ? e.message : drfMessage(e, model)] });
  const errors = new FieldErrors();
  errors.add(pathOf(e.field), drfMessage(e, model));
  return errors.error();
}

/** Every domain error code, as Emailicious answers an error of that kind. */
const DOMAIN_ERRORS: Record<DomainErrorCode, (e: DomainError, model: string) => EmailiciousError> = {
  NOT_FOUND: () => NOT_FOUND(),
  INVALID_ARGUMENT: fieldError,
  CONFLICT: fieldError,
  FORBIDDEN_STATE: (e) => new EmailiciousError(400, { detail: e.message }),
  BAD_REQUEST: (e) => new EmailiciousError(400, { detail: e.message }),
};

/**
 * A core error as Emailicious answers it, or the database unavailable (503); anything else is rethrown (a
 * 500). `model` is the resource's object as DRF names it in messages ("mailing with this name already exists.").
 */
export function emailiciousErrorOf(e: unknown, model = 'object'): EmailiciousError {
  if (e instanceof EmailiciousError) return e;
  const u = unavailability(e);
  if (u) return UNAVAILABLE(u);
  if (!isDomainError(e)) throw e;
  return DOMAIN_ERRORS[e.code](e, model);
}
