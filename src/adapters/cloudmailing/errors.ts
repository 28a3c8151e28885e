/**
 * CloudMailing faults. Domain errors keep the original server's HTTP-like codes; protocol errors use the
 * XML-RPC interoperability codes (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php).
 */
import { isDomainError, type DomainErrorCode } from '../../core/errors.js';

export const FAULT = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  UNKNOWN_METHOD: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
} as const;

/** Every domain error code, spelled as a faultCode. */
export const DOMAIN_FAULT_CODES: Record<DomainErrorCode, number> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 406,
  FORBIDDEN_STATE: 403,
  BAD_REQUEST: 400,
  CONFLICT: 409,
  TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  UNAVAILABLE: 503,
};

/** A fault raised by the adapter itself (wrong params, unknown method, bad property...). */
export class Fault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(faultString);
    this.name = 'Fault';
  }
}

export const invalidParams = (message: string) => new Fault(FAULT.INVALID_PARAMS, message);
/** 406: an argument or property the original server refused as "not acceptable". */
export const notAcceptable = (message: string) => new Fault(DOMAIN_FAULT_CODES.INVALID_ARGUMENT, message);

/** The fault for any error; `internal` tells the caller to log it (its message is never sent). */
export function toFault(e: unknown): { faultCode: number; faultString: string; internal: boolean } {
  if (e instanceof Fault) return { faultCode: e.faultCode, faultString: e.faultString, internal: false };
  if (isDomainError(e)) return { faultCode: DOMAIN_FAULT_CODES[e.code], faultString: e.message, internal: false };
  return { faultCode: FAULT.INTERNAL, faultString: 'internal error', internal: true };
}
