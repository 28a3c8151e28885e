/**
 * CloudMailing faults: domain errors keep the original server's HTTP-like codes, and its parameter names in
 * messages. Protocol errors are the shared RPC codes (-32700 malformed, -32601 unknown method: the original
 * answered 8001 there, -32602 wrong params, -32603 internal).
 *
 * HTTP status, as the original sets it: its set_mailing_properties, delete_mailing, start_mailing and
 * pause_mailing answer every fault they raise with the HTTP status equal to the fault code, and
 * add_recipients / send_test do so for an unknown mailing (404); Mailgate's per-call recipient limit (400)
 * is answered the same way. Python's xmlrpc.client then raises ProtocolError, which integrations of the
 * original catch. Everything else is a fault in an HTTP 200 answer (create_mailing_ext included: the
 * original's never set a status there). A database that cannot serve (disk full, restarting) is fault 503.
 */
import { isDomainError, type DomainErrorCode } from '../../core/errors.js';
import { Fault, type FaultAnswer, type FaultSpelling } from '../../rpc/faults.js';

export const DOMAIN_FAULT_CODES: Record<DomainErrorCode, number> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 406,
  FORBIDDEN_STATE: 403,
  BAD_REQUEST: 400,
  CONFLICT: 409,
};

/**
 * Core field names as this dialect's parameters and properties. A field not named here is no name of
 * CloudMailing's (the core's own, of a mailing the gateway made itself): the fault leaves it out.
 */
const FIELD_NAMES: Record<string, string> = {
  email: 'email',
  subject: 'subject',
  charset: 'charset',
  type: 'type',
  dkim: 'dkim',
  headerBlock: 'header',
  body: 'body',
  testing: 'testing',
  satelliteGroup: 'satellite_group',
  urlEncoding: 'url_encoding',
  backupCustomizedEmails: 'backup_customized_emails',
  dontCloseIfEmpty: 'dont_close_if_empty',
  readTracking: 'read_tracking',
  clickTracking: 'click_tracking',
  fromEmail: 'mail_from',
  fromName: 'sender_name',
  html: 'html_content',
  text: 'plain_content',
  ownerGuid: 'owner_guid',
  scheduledStart: 'scheduled_start',
  scheduledEnd: 'scheduled_end',
  maxDurationMinutes: 'scheduled_duration',
  spreadMinutes: 'spread_minutes',
  trackingUrl: 'tracking_url',
  message: 'rfc822_string',
  domain: 'domain_name',
};

/**
 * The database cannot serve now (disk full, restarting, unreachable): fault 503 `Service unavailable: <why>;
 * try again later`, in the original's HTTP-like codes. HTTP status as for any fault: 200 but where the
 * method answers every fault with its code (httpStatusOf); JSON-RPC answers a single call so with HTTP 503.
 */
export const UNAVAILABLE_FAULT = 503;

export const spelling: FaultSpelling = {
  codes: DOMAIN_FAULT_CODES,
  unavailable: UNAVAILABLE_FAULT,
  field: (name) => (Object.hasOwn(FIELD_NAMES, name) ? FIELD_NAMES[name] : undefined),
};

const STATUS_ON_EVERY_FAULT = new Set(['set_mailing_properties', 'delete_mailing', 'start_mailing', 'pause_mailing']);
const STATUS_ON_UNKNOWN_MAILING = new Set(['add_recipients', 'send_test']);

export function httpStatusOf(methodName: string, f: FaultAnswer): number {
  if (f.faultCode < 400 || f.faultCode >= 600) return 200;
  if (STATUS_ON_EVERY_FAULT.has(methodName)) return f.faultCode;
  if (STATUS_ON_UNKNOWN_MAILING.has(methodName) && f.faultCode === DOMAIN_FAULT_CODES.NOT_FOUND) return f.faultCode;
  return 200;
}

/** 406: a value or property the original server refused as "not acceptable". */
export const notAcceptable = (message: string) => new Fault(DOMAIN_FAULT_CODES.INVALID_ARGUMENT, message);

export function fail(message: string): never {
  throw notAcceptable(message);
}

/** The original's fault code for missing or wrong credentials (auth is the adapter's: no domain error). */
export const AUTHORIZATION_FAULT = 401;
/** 401 in an HTTP 200 answer: wrong credentials, as the original answers them. */
export const AUTHORIZATION_FAILED = 'Authorization Failed!';

/**
 * The original's words for a mailing it does not find: `Mailing not found!` (its start_mailing, pause_mailing,
 * delete_mailing, add_recipients, send_test), `Mailing [<id>] not found!` in set_mailing_properties
 * (cloud_mailing/master/api_common.py and xmlrpc_api.py).
 */
export async function onMailing<T>(fn: () => Promise<T>, text = 'Mailing not found!'): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isDomainError(e) && e.code === 'NOT_FOUND' && e.message.startsWith('mailing ')) throw new Fault(DOMAIN_FAULT_CODES.NOT_FOUND, text);
    throw e;
  }
}
