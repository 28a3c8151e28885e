/**
 * Faults of the RPC dialects. Protocol errors use the XML-RPC interoperability codes
 * (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php), which JSON-RPC 2.0 shares. Domain errors
 * are spelled by each dialect: a code per DomainErrorCode (the compiler refuses a new code until every
 * dialect maps it) and its own name for the field at fault.
 */
import { isDomainError, unavailability, type DomainErrorCode, type Unavailability } from '../core/errors.js';

export const RPC_FAULT = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  UNKNOWN_METHOD: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
} as const;

/** A fault raised by an adapter itself (wrong params, unknown method, a value its dialect refuses). */
export class Fault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
    /** An HTTP status for the answer other than 200, when the dialect sets one for this fault. */
    readonly httpStatus?: number,
  ) {
    super(faultString);
    this.name = 'Fault';
  }
}

export const invalidParams = (message: string) => new Fault(RPC_FAULT.INVALID_PARAMS, message);

export interface FaultSpelling {
  codes: Record<DomainErrorCode, number>;
  /** The code of "service unavailable": the database cannot serve now (core/errors.ts `unavailability`). */
  unavailable: number;
  /** The dialect's name for a core field (`fromEmail` -> `mail_from`); undefined: the fault does not name it. */
  field(coreName: string): string | undefined;
}

export interface FaultAnswer {
  faultCode: number;
  faultString: string;
  /** An unexpected error: the caller logs it; its message is never sent. */
  internal: boolean;
  httpStatus?: number | undefined;
  /** The database could not serve the call: the caller logs `logLine` (with its SQLSTATE), never sends it. */
  unavailable?: Unavailability;
}

/** The fault text of "service unavailable", in both RPC encodings. */
export const unavailableFaultString = (u: Unavailability) => `Service unavailable: ${u.message}`;

export function toFault(e: unknown, spelling: FaultSpelling): FaultAnswer {
  if (e instanceof Fault) return { faultCode: e.faultCode, faultString: e.faultString, internal: false, httpStatus: e.httpStatus };
  if (isDomainError(e)) {
    const field = e.field ? spelling.field(e.field) : undefined;
    const text = field ? `${field}: ${e.message}` : e.message;
    return { faultCode: spelling.codes[e.code], faultString: text, internal: false };
  }
  const u = unavailability(e);
  if (u) return { faultCode: spelling.unavailable, faultString: unavailableFaultString(u), internal: false, unavailable: u };
  return { faultCode: RPC_FAULT.INTERNAL, faultString: 'internal error', internal: true };
}
