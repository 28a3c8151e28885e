/**
 * Emailicious' error answers, Django REST Framework's shapes: 400 `{"<field>": ["message"]}` nested as the
 * request is (`{"variants": [{}, {"layout": {"zip_file": ["..."]}}]}`), `{"non_field_errors": [...]}` for the
 * whole object, `{"detail": "..."}` for 401, 404 (`Not found.`), 405, 413 and 415; a 409 carries the
 * conflicting subscriber as its body.
 */
import { isDomainError } from '../../core/errors.js';

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

/** A core error as Emailicious answers it; anything else is rethrown (a 500). */
export function emailiciousErrorOf(e: unknown): EmailiciousError {
  if (e instanceof EmailiciousError) return e;
  if (!isDomainError(e)) throw e;
  switch (e.code) {
    case 'NOT_FOUND':
      return NOT_FOUND();
    case 'INVALID_ARGUMENT':
    case 'CONFLICT': {
      if (!e.field) return new EmailiciousError(400, { non_field_errors: [e.message] });
      const errors = new FieldErrors();
      errors.add(pathOf(e.field), e.message);
      return errors.error();
    }
    case 'TOO_LARGE':
      return new EmailiciousError(413, { detail: e.message });
    case 'UNAVAILABLE':
      return new EmailiciousError(503, { detail: e.message });
    default:
      return new EmailiciousError(400, { detail: e.message });
  }
}
