/**
 * Who opened or clicked: a person (`human`) or a machine, with the reason. A pure rule module: it sees the
 * request (method, address, user agent, time), the recipient's delivery time and the recipient's other clicks
 * of the last burst window, and nothing else. The verdict is data, never a filter: every hit is stored with it,
 * and reports count human ones by default and machine ones apart.
 *
 * The rules, first match wins (so a reason names the most specific cause):
 * 1. `head`: a HEAD request. Browsers and mail clients GET a pixel or a link; HEAD is a link checker.
 * 2. `apple-mpp`: an open through Apple Mail Privacy Protection. Apple's proxy loads every remote image of a
 *    message when the device receives it, whether or not anybody reads it, from Apple's own network
 *    (17.0.0.0/8, TRACKING_APPLE_NETWORKS) and with the bare user agent `Mozilla/5.0` (no browser sends that
 *    alone). Either identifies it. Clicks are not judged by this rule (the proxy follows no link).
 * 3. `scanner-ua`: a user agent no mail reader sends: security scanners (Microsoft Defender / Office
 *    discovery probes, BingPreview, Proofpoint, Mimecast, Barracuda, Symantec, Trend Micro, Sophos, Fortinet,
 *    Cisco, Google's safe browsing and other Google fetchers), link preview bots, HTTP libraries (curl, wget,
 *    Python, Go, Java, okhttp, node), headless browsers, anything calling itself a bot, crawler or spider, and
 *    no user agent at all.
 * 4. `scanner-network`: an address in TRACKING_SCANNER_NETWORKS (by default the networks the big mail
 *    security gateways scan from: Microsoft Exchange Online Protection, Proofpoint, Mimecast, Barracuda).
 * 5. `gmail-proxy`: Gmail's image proxy (`GoogleImageProxy` in the user agent) fetching the pixel within the
 *    too-soon window: a prefetch at delivery. Gmail's proxy otherwise fetches images when the message is
 *    displayed (and caches them), so a later GoogleImageProxy open is a person reading it in Gmail: `human`.
 * 6. `all-links`: a click on one link while the same recipient clicked another link of the message within the
 *    burst window (1 s): a scanner following every link. A person cannot click two links of a message within a
 *    second (each click opens a page first). The earlier clicks of the burst become machine ones too (the
 *    caller rewrites them): a scanner following every link of a message always clicks two within a second,
 *    so this is "every link of the message within a second" without knowing how many links the message has.
 * 7. `too-soon`: an open or click within TRACKING_TOO_SOON_SECONDS (30) of the recipient's delivery, or on a
 *    message whose delivery is not recorded yet (the worker writes a batch's outcomes after its SMTP
 *    conversations, so the receiving side's scanners can be faster than that write). A person needs to see
 *    the notification, open the mail client and the message; scanners at the receiving MX fetch at once.
 */
import { isIPv4, isIPv6, type BlockList } from 'node:net';
import { DEFAULT_APPLE_NETWORKS, DEFAULT_SCANNER_NETWORKS, networks } from '../../networks.js';

export { DEFAULT_APPLE_NETWORKS, DEFAULT_SCANNER_NETWORKS, networks };

export type Verdict = 'human' | 'machine';
export type MachineReason = 'head' | 'apple-mpp' | 'scanner-ua' | 'scanner-network' | 'gmail-proxy' | 'all-links' | 'too-soon';

export interface Hit {
  kind: 'open' | 'click';
  method: 'GET' | 'HEAD';
  /** The client's address (IPv4-mapped IPv6 addresses as IPv4), when known. */
  ip: string | null;
  userAgent: string | null;
  at: Date;
  /** A click's link (its position in the html part). */
  linkIndex?: number | null;
}

export interface HitContext {
  /** When the recipient's message was accepted by the receiving server; null while not recorded. */
  deliveredAt: Date | null;
  /** The recipient's other clicks in the burst window before this hit (link index and time). */
  recentClicks: readonly { linkIndex: number | null; at: Date }[];
}

export interface Judgement {
  verdict: Verdict;
  reason: MachineReason | null;
  /** The recipient's earlier clicks of the burst window are machine ones too (`all-links`). */
  burst: boolean;
}

export interface VerdictRules {
  tooSoonSeconds: number;
  burstMs: number;
  appleNetworks: BlockList;
  scannerNetworks: BlockList;
}

export const DEFAULT_TOO_SOON_SECONDS = 30;
export const DEFAULT_BURST_MS = 1000;

/** What no person's mail reader or browser sends as its user agent. */
const SCANNER_AGENTS = new RegExp(
  [
    // Microsoft: Defender / Safe Links and Office's link discovery probes, Bing's previews
    'BingPreview',
    'Microsoft Office Existence Discovery',
    'Microsoft Office Protocol Discovery',
    'ms-office',
    'MSOffice',
    'Microsoft-WebDAV',
    // mail security gateways
    'Proofpoint',
    'urldefense',
    'Mimecast',
    'Barracuda',
    'Symantec',
    'MessageLabs',
    'Trend ?Micro',
    'Sophos',
    'Forti(Guard|net)',
    'IronPort',
    'Cisco',
    'Zscaler',
    // Google's fetchers other than the image proxy (safe browsing, crawlers)
    'Google-Safety',
    'Google-?Safe-?Browsing',
    'Googlebot',
    'AdsBot-Google',
    'Google-Read-Aloud',
    'Google-InspectionTool',
    // link previews
    'facebookexternalhit',
    'Slackbot',
    'Twitterbot',
    'LinkedInBot',
    'WhatsApp',
    'TelegramBot',
    'Discordbot',
    'SkypeUriPreview',
    // HTTP libraries and tools
    '^curl/',
    'Wget',
    'python-requests',
    'python-urllib',
    '^Python',
    'aiohttp',
    'httpx',
    'Go-http-client',
    'okhttp',
    '^Java/',
    'Apache-HttpClient',
    'libwww-perl',
    'node-fetch',
    'axios',
    'undici',
    '^node$',
    'PostmanRuntime',
    'Scrapy',
    // headless browsers
    'HeadlessChrome',
    'PhantomJS',
    'Puppeteer',
    'Playwright',
    'Selenium',
    // anything saying what it is
    '\\bbot\\b',
    'bot/',
    'crawler',
    'spider',
  ].join('|'),
  'i',
);

/** Apple Mail Privacy Protection's proxy's user agent: exactly this, nothing after it. */
const APPLE_MPP_AGENT = 'Mozilla/5.0';
const GMAIL_PROXY_AGENT = /GoogleImageProxy/;

function inList(list: BlockList, ip: string | null): boolean {
  if (!ip) return false;
  if (isIPv4(ip)) return list.check(ip, 'ipv4');
  return isIPv6(ip) && list.check(ip, 'ipv6');
}

export function defaultRules(): VerdictRules {
  return {
    tooSoonSeconds: DEFAULT_TOO_SOON_SECONDS,
    burstMs: DEFAULT_BURST_MS,
    appleNetworks: networks(DEFAULT_APPLE_NETWORKS),
    scannerNetworks: networks(DEFAULT_SCANNER_NETWORKS),
  };
}

const machine = (reason: MachineReason, burst = false): Judgement => ({ verdict: 'machine', reason, burst });

export function judge(hit: Hit, ctx: HitContext, rules: VerdictRules): Judgement {
  const ua = hit.userAgent?.trim() ?? '';
  const tooSoon = ctx.deliveredAt === null || hit.at.getTime() - ctx.deliveredAt.getTime() < rules.tooSoonSeconds * 1000;
  const burst =
    hit.kind === 'click' &&
    hit.linkIndex !== null &&
    hit.linkIndex !== undefined &&
    ctx.recentClicks.some((c) => c.linkIndex !== null && c.linkIndex !== hit.linkIndex && hit.at.getTime() - c.at.getTime() <= rules.burstMs);

  if (hit.method === 'HEAD') return machine('head', burst);
  if (hit.kind === 'open' && (ua === APPLE_MPP_AGENT || inList(rules.appleNetworks, hit.ip))) return machine('apple-mpp');
  if (!ua || SCANNER_AGENTS.test(ua)) return machine('scanner-ua', burst);
  if (inList(rules.scannerNetworks, hit.ip)) return machine('scanner-network', burst);
  if (GMAIL_PROXY_AGENT.test(ua)) return tooSoon ? machine('gmail-proxy') : { verdict: 'human', reason: null, burst: false };
  if (burst) return machine('all-links', true);
  if (tooSoon) return machine('too-soon');
  return { verdict: 'human', reason: null, burst: false };
}
