/**
 * The only reader of process.env. Every variable is declared once here, with its default and its meaning;
 * `mailgate config` prints this table, and the README's table is generated from it.
 */
import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_APPLE_NETWORKS, DEFAULT_SCANNER_NETWORKS, networks } from './networks.js';

const bool = z.enum(['1', '0', 'true', 'false', 'yes', 'no', '']).transform((v) => v === '1' || v === 'true' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** Comma-separated CIDRs ('none' or nothing: none). */
const cidrs = z
  .string()
  .transform((v) =>
    v.trim() === 'none'
      ? []
      : v
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
  )
  .refine((list) => {
    try {
      networks(list);
      return true;
    } catch {
      return false;
    }
  }, 'comma-separated networks such as 17.0.0.0/8 or 2001:db8::/32');

/** `--processes` and MAILGATE_PROCESSES: a count, or `auto`. */
export const isProcesses = (v: string) => v === 'auto' || (/^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 256);

/** A valid `--processes` value as a count of HTTP processes. */
export const processCount = (v: string) => (v === 'auto' ? os.availableParallelism() : Number(v));

interface VarDoc {
  schema: z.ZodType;
  default?: string;
  doc: string;
}

export const VARIABLES = {
  DATABASE_URL: {
    schema: z.string().url().optional(),
    doc: 'Postgres connection URL. Unset: an embedded Postgres under DATA_DIR is started (or joined, when another mailgate process already runs it).',
  },
  DATA_DIR: { schema: z.string().min(1), default: './.data', doc: 'Where the embedded Postgres keeps its data (only used without DATABASE_URL).' },
  EMBEDDED_PG_PORT: { schema: int(0, 65535), default: '0', doc: 'Port of the embedded Postgres on 127.0.0.1; 0 picks a free one the first time and keeps it.' },
  MAILGATE_SYSTEM_DIR: {
    schema: z.string().min(1),
    default: '/var/lib/mailgate',
    doc: 'Used as root only, when DATA_DIR or node_modules lie where the postgres user cannot reach (a checkout in /root): the cluster then lives in HASH/pg here, and Postgres runs from a copy of its binaries in pg-PLATFORM-VERSION here (made once per version).',
  },
  HOST: { schema: z.string().min(1), default: '0.0.0.0', doc: 'Address the HTTP server binds.' },
  PORT: { schema: int(0, 65535), default: '33610', doc: 'The one HTTP port for every dialect (33610 is the CloudMailing port).' },
  MAILGATE_PROCESSES: {
    schema: z.string().refine(isProcesses, 'a count from 1 to 256, or auto'),
    default: '1',
    doc: '`mailgate serve`: HTTP processes sharing PORT (node:cluster; `--processes` overrides). auto: one per core (os.availableParallelism). Above 1, a primary process runs the database, the worker and the bounce listener once.',
  },
  PUBLIC_URL: {
    schema: z.string().url().optional(),
    doc: 'Base URL clients and recipients reach the gateway at (links, unsubscribe, tracking). Default: http://localhost:PORT.',
  },
  TLS_CERT_FILE: { schema: z.string().optional(), doc: 'PEM certificate: with TLS_KEY_FILE, the HTTP port speaks HTTPS.' },
  TLS_KEY_FILE: { schema: z.string().optional(), doc: 'PEM private key for TLS_CERT_FILE.' },
  MAX_BODY_BYTES: { schema: int(1024, 1 << 30), default: String(32 * 1024 * 1024), doc: 'Largest request body; beyond it the answer is HTTP 413.' },
  MAX_RECIPIENTS_PER_CALL: {
    schema: int(1, 1_000_000),
    default: '10000',
    doc: 'Most recipients one add_recipients / send_test call may carry; more is refused whole.',
  },
  SMTP_URL: {
    schema: z.string().optional(),
    doc: 'Outgoing relay(s), comma-separated smtp:// (STARTTLS when announced) or smtps:// URLs, `user:pass@` for AUTH, and options as query: `tls.rejectUnauthorized=false` (a self-signed relay), `requireTLS=true`, `ignoreTLS=true`, `name=` (the EHLO name). Unset: the built-in SMTP capture keeps every message in Postgres.',
  },
  TESTING_SMTP_URL: {
    schema: z
      .string()
      .refine((v) => URL.canParse(v) && /^smtps?:$/.test(new URL(v).protocol), 'one smtp:// or smtps:// URL')
      .optional(),
    doc: "Where messages of mailings marked `testing` go (CloudMailing's testing SMTP server, the original's TEST_TARGET_IP and TEST_TARGET_PORT): one smtp:// or smtps:// URL with SMTP_URL's options; its replies are recorded as any relay's (a refusal is the recipient's ERROR). Unset: the built-in SMTP capture keeps them.",
  },
  SMTP_MAX_CONNECTIONS: { schema: int(1, 1000), default: '5', doc: 'Pooled SMTP connections per relay and worker process.' },
  SMTP_MAX_MESSAGES: {
    schema: int(1, 1_000_000),
    default: '1000',
    doc: "Messages sent over one pooled SMTP connection before it is renewed (reconnecting every 100, nodemailer's default, costs a third of the throughput).",
  },
  SMTP_RATE: { schema: z.coerce.number().min(0), default: '0', doc: 'Messages per second per relay and worker process; 0 = no cap.' },
  SMTP_TIMEOUT_MS: { schema: int(1000, 600_000), default: '60000', doc: 'Socket timeout of one SMTP conversation.' },
  CAPTURE_SMTP_PORT: {
    schema: int(0, 65535),
    default: '0',
    doc: "Port of each worker's built-in SMTP capture on 127.0.0.1 (0: any free port). It keeps every message when SMTP_URL is unset, and those of mailings marked `testing` when TESTING_SMTP_URL is unset.",
  },
  BOUNCE_DOMAIN: {
    schema: z.string().min(1).optional(),
    doc: "Domain of the VERP return path bounces+<token>@BOUNCE_DOMAIN and of the built-in messages' sender noreply@BOUNCE_DOMAIN (on a host without a domain, such as localhost or an IP address, noreply@HOST.localdomain or noreply@localhost.localdomain). Default: the host of PUBLIC_URL.",
  },
  BOUNCE_SMTP_PORT: {
    schema: int(0, 65535),
    default: '2525',
    doc: 'Inbound SMTP listener of the HTTP nodes for what comes back to the VERP return path (delivery status notifications, complaints) and to the List-Unsubscribe mailto: address; point the MX of BOUNCE_DOMAIN at it (0: any free port).',
  },
  DKIM_DOMAIN: { schema: z.string().optional(), doc: 'DKIM signing domain (with DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE).' },
  DKIM_SELECTOR: { schema: z.string().optional(), doc: 'DKIM selector.' },
  DKIM_PRIVATE_KEY_FILE: { schema: z.string().optional(), doc: 'PEM private key for DKIM: RSA (signs rsa-sha256) or Ed25519 (ed25519-sha256).' },
  CONFIRM_LINK_DAYS: { schema: int(1, 3650), default: '30', doc: 'Days a double opt-in confirmation link ({{ subscribe_link }}) stays valid.' },
  CUSTOMIZED_CONTENT_RETENTION_DAYS: {
    schema: int(1, 3650),
    default: '7',
    doc: "Days a recipient's rendered message is kept for mailings with backup_customized_emails (CloudMailing customized_content).",
  },
  TRACKING_TOO_SOON_SECONDS: {
    schema: int(0, 86_400),
    default: '30',
    doc: "Hosted tracking: an open or click this soon after the recipient's delivery is a machine's (verdict too-soon; a Gmail image proxy fetch then is a prefetch).",
  },
  TRACKING_BURST_MS: {
    schema: int(0, 60_000),
    default: '1000',
    doc: 'Hosted tracking: two links of one message clicked by its recipient within this many milliseconds are a scanner following every link (verdict all-links, the earlier clicks too).',
  },
  TRACKING_APPLE_NETWORKS: {
    schema: cidrs,
    default: DEFAULT_APPLE_NETWORKS.join(','),
    doc: "Hosted tracking: comma-separated networks of Apple Mail Privacy Protection's proxy; an open from one is a machine's (verdict apple-mpp); `none`: no network.",
  },
  TRACKING_SCANNER_NETWORKS: {
    schema: cidrs,
    default: DEFAULT_SCANNER_NETWORKS.join(','),
    doc: "Hosted tracking: comma-separated networks of link scanners (by default those of Microsoft Exchange Online Protection, Proofpoint, Mimecast and Barracuda); an open or click from one is a machine's (verdict scanner-network); `none`: no network.",
  },
  CAPTURE_RETENTION_DAYS: {
    schema: int(1, 3650),
    default: '30',
    doc: 'Days the built-in SMTP capture keeps a message; older ones are purged by the workers (every minute) and can be purged earlier from /admin/outbox.',
  },
  WORKER_CONCURRENCY: { schema: int(1, 64), default: '4', doc: 'Jobs one worker process runs at once.' },
  WORKER_STALE_SECONDS: {
    schema: int(3, 3600),
    default: '60',
    doc: 'A worker silent this long is dead: the sweeper releases its leases and jobs (workers heartbeat four times as often).',
  },
  SEND_LANES: {
    schema: int(1, 64),
    default: '2',
    doc: 'Jobs that work one send side by side (so one batch renders while another is on the wire); at most WORKER_CONCURRENCY run per process.',
  },
  SEND_BATCH_SIZE: { schema: int(1, 10_000), default: '200', doc: 'Recipients one claim takes (one outcome write per batch).' },
  LEASE_SECONDS: {
    schema: int(5, 86_400),
    default: '120',
    doc: 'How long a claimed batch stays leased to its worker before the sweeper may hand it to another.',
  },
  RETRY_BASE_SECONDS: {
    schema: z.coerce.number().min(0.01),
    default: '300',
    // The rule's values live in src/core/delivery/retry.ts (test/pipeline/rules.test.ts holds this text to them).
    doc: 'First retry delay after a temporary failure; it doubles each try (at most 6 hours).',
  },
  RETRY_MAX_HOURS: {
    schema: z.coerce.number().min(0),
    default: '72',
    doc: 'A recipient still failing temporarily this long after its first try ends TIMEOUT.',
  },
  METRICS_PORT: {
    schema: int(0, 65535).optional(),
    doc: 'Port of /metrics and /healthz for a `mailgate worker` process (it has no HTTP server otherwise; 0: any free port, printed at start). Unset: a worker process serves neither. HTTP nodes serve both on PORT whatever this says.',
  },
  METRICS_TOKEN: {
    schema: z.string().min(16).optional(),
    doc: 'When set, /metrics answers only requests with `Authorization: Bearer <this>` (at least 16 characters). Unset: anyone who reaches the port may scrape (no label carries account data). /healthz stays open.',
  },
  WEBHOOK_TIMEOUT_SECONDS: {
    schema: z.coerce.number().min(0.01).max(300),
    default: '15',
    doc: 'How long a webhook endpoint has to answer one message; no answer in time is a failed attempt.',
  },
  WEBHOOK_RETRY_SCHEDULE: {
    schema: z
      .string()
      .regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, 'seconds, separated by commas')
      .transform((v) => v.split(',').map((x) => Number(x.trim()))),
    default: '5,300,1800,7200,18000,36000,36000',
    doc: "Seconds before each retry of a webhook message that failed (and an endpoint's next attempt after that many failures in a row); the message fails for good once they are used up (the default: 8 attempts over 27.5 hours).",
  },
  WEBHOOK_DISABLE_AFTER_HOURS: {
    schema: z.coerce.number().min(0),
    default: '120',
    doc: 'A webhook endpoint failing every attempt for this long is disabled, with the reason (its messages keep queueing until it is enabled).',
  },
  WEBHOOK_RETENTION_DAYS: {
    schema: int(1, 3650),
    default: '30',
    doc: 'Days a delivered or failed webhook message is kept, with its attempt log (replayable meanwhile).',
  },
  TASK_RETENTION_DAYS: {
    schema: int(1, 3650),
    default: '30',
    doc: "Days a finished asynchronous task (Sender's bulk calls: GET .../tasks/<task_id>) is kept with its status and result; its items are dropped as soon as it finishes.",
  },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'pino log level.' },
  LOG_PRETTY: {
    schema: z.union([z.literal('auto'), bool]),
    default: 'auto',
    doc: 'Human-readable logs (pino-pretty) instead of JSON lines: auto = when stderr, where logs go, is a terminal; true or false to force.',
  },
} satisfies Record<string, VarDoc>;

type Vars = typeof VARIABLES;
export type Config = { [K in keyof Vars]: z.output<Vars[K]['schema']> } & {
  publicUrl: string;
  bounceDomain: string;
};

export class ConfigError extends Error {}

/** Parse an environment (process.env by default) into a typed config; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, v] of Object.entries(VARIABLES) as [string, VarDoc][]) {
    const raw = env[name] === undefined || env[name] === '' ? v.default : env[name];
    const parsed = v.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const cfg = out as Config;
  cfg.publicUrl = (cfg.PUBLIC_URL ?? `http://localhost:${cfg.PORT}`).replace(/\/+$/, '');
  cfg.bounceDomain = cfg.BOUNCE_DOMAIN ?? new URL(cfg.publicUrl).hostname;
  return cfg;
}

/** The variables as a Markdown table (README, `mailgate config`). */
export function configTable(): string {
  const rows = Object.entries(VARIABLES as Record<string, VarDoc>).map(
    ([name, v]) => `| \`${name}\` | ${v.default === undefined ? '' : `\`${v.default}\``} | ${v.doc} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** Variables that hold URLs with credentials: shown with their passwords masked. */
const CREDENTIAL_URLS: ReadonlySet<string> = new Set(['DATABASE_URL', 'SMTP_URL', 'TESTING_SMTP_URL']);

/** Each comma-separated URL of `value` with its password (if any) replaced by `*****`. */
export function maskPasswords(value: string): string {
  return value
    .split(',')
    .map((part) => {
      const u = URL.canParse(part.trim()) ? new URL(part.trim()) : undefined;
      return u?.password ? `${u.protocol}//${u.username}:*****@${u.host}${u.pathname}${u.search}${u.hash}` : part;
    })
    .join(',');
}

export interface EffectiveValue {
  name: string;
  /** As the program uses it; '' when unset. Passwords in URLs masked. */
  value: string;
  /** `environment`: set there; `default`: the variable's default; `derived`: computed from others; `unset`. */
  source: 'environment' | 'default' | 'derived' | 'unset';
}

/** The configuration `config` (loaded from `env`) in effect, variable by variable, as `mailgate config` shows it. */
export function effectiveConfig(config: Config, env: Record<string, string | undefined> = process.env): EffectiveValue[] {
  const derived: Partial<Record<keyof Vars, string>> = { PUBLIC_URL: config.publicUrl, BOUNCE_DOMAIN: config.bounceDomain };
  return (Object.keys(VARIABLES) as (keyof Vars)[]).map((name) => {
    const set = env[name] !== undefined && env[name] !== '';
    const v = config[name];
    const shown = (s: string) => (CREDENTIAL_URLS.has(name) ? maskPasswords(s) : s);
    if (set) return { name, value: shown(String(v)), source: 'environment' };
    if (derived[name] !== undefined) return { name, value: derived[name], source: 'derived' };
    if ((VARIABLES[name] as VarDoc).default !== undefined) return { name, value: shown(String(v)), source: 'default' };
    return { name, value: '', source: 'unset' };
  });
}

/**
 * A crash test's hook, not configuration (so not in VARIABLES, `mailgate config` or the README):
 * MAILGATE_FAILPOINT names a point of the code at which this process kills itself with SIGKILL, so a test
 * stops a real process exactly between two steps (e.g. `transactional-wake`: a transactional recipient
 * committed, its send's job not yet woken). Unset, a failpoint costs one string comparison.
 */
const FAILPOINT = process.env.MAILGATE_FAILPOINT ?? '';
export function failpoint(name: string): void {
  if (FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
