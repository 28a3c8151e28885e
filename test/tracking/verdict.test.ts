/**
 * The verdict rules (src/core/tracking/verdict.ts) as a table: each row a hit, its context and the verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRules, judge, networks, type Hit, type HitContext, type MachineReason } from '../../src/core/tracking/verdict.js';

const T0 = new Date('2026-12-07T10:00:00Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const OUTLOOK = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft Outlook 16.0.17928; Pro';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';
const GMAIL = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

type Row = [name: string, hit: Partial<Hit>, ctx: Partial<HitContext>, want: 'human' | MachineReason, burst?: boolean];

// Defaults: a GET open from a home address by Chrome, an hour after delivery.
const base: Hit = { kind: 'open', method: 'GET', ip: '198.51.100.20', userAgent: CHROME, at: later(3600), linkIndex: null };
const baseCtx: HitContext = { deliveredAt: T0, recentClicks: [] };

const ROWS: Row[] = [
  ['a browser open an hour after delivery', {}, {}, 'human'],
  ['a browser click', { kind: 'click', linkIndex: 0 }, {}, 'human'],
  ['Outlook desktop loading images', { userAgent: OUTLOOK }, {}, 'human'],
  ['an iPhone browser click', { kind: 'click', linkIndex: 1, userAgent: IPHONE }, {}, 'human'],
  ['HEAD of the pixel', { method: 'HEAD' }, {}, 'head'],
  ['HEAD of a link, by a browser user agent', { kind: 'click', method: 'HEAD', linkIndex: 0 }, {}, 'head'],
  ['Apple MPP: the bare user agent', { userAgent: 'Mozilla/5.0', ip: '203.0.113.9' }, {}, 'apple-mpp'],
  ["Apple MPP: Apple's network", { ip: '17.58.101.7', userAgent: IPHONE }, {}, 'apple-mpp'],
  ["a click from Apple's network is not judged by the MPP rule", { kind: 'click', linkIndex: 0, ip: '17.58.101.7' }, {}, 'human'],
  ['Gmail image proxy an hour later: a person reading in Gmail', { userAgent: GMAIL, ip: '66.249.84.1' }, {}, 'human'],
  ['Gmail image proxy at delivery: a prefetch', { userAgent: GMAIL, at: later(3) }, {}, 'gmail-proxy'],
  ['Microsoft Office discovery probe', { kind: 'click', linkIndex: 0, userAgent: 'Microsoft Office Existence Discovery' }, {}, 'scanner-ua'],
  [
    'BingPreview (Defender)',
    { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b' },
    {},
    'scanner-ua',
  ],
  ['Proofpoint', { kind: 'click', linkIndex: 0, userAgent: 'Proofpoint URL Defense' }, {}, 'scanner-ua'],
  ['Mimecast', { kind: 'click', linkIndex: 0, userAgent: 'Mimecast-URL-Protect/1.0' }, {}, 'scanner-ua'],
  ['Barracuda', { kind: 'click', linkIndex: 0, userAgent: 'Barracuda Sentinel (EE)' }, {}, 'scanner-ua'],
  ['Google safe browsing', { kind: 'click', linkIndex: 0, userAgent: 'Google-Safety; (+https://developers.google.com/safe-browsing)' }, {}, 'scanner-ua'],
  ['curl', { userAgent: 'curl/8.5.0' }, {}, 'scanner-ua'],
  ['python requests', { kind: 'click', linkIndex: 0, userAgent: 'python-requests/2.31.0' }, {}, 'scanner-ua'],
  ['python urllib', { userAgent: 'Python-urllib/3.11' }, {}, 'scanner-ua'],
  ['Go', { userAgent: 'Go-http-client/1.1' }, {}, 'scanner-ua'],
  ['headless Chrome', { userAgent: CHROME.replace('Chrome/', 'HeadlessChrome/') }, {}, 'scanner-ua'],
  ['a crawler', { userAgent: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' }, {}, 'scanner-ua'],
  ['no user agent', { userAgent: null }, {}, 'scanner-ua'],
  ['an empty user agent', { userAgent: '  ' }, {}, 'scanner-ua'],
  ['Exchange Online Protection network', { kind: 'click', linkIndex: 0, ip: '40.107.22.33' }, {}, 'scanner-network'],
  ['Proofpoint network', { ip: '148.163.150.2' }, {}, 'scanner-network'],
  ['an open 5 s after delivery', { at: later(5) }, {}, 'too-soon'],
  ['a click 29 s after delivery', { kind: 'click', linkIndex: 0, at: later(29) }, {}, 'too-soon'],
  ['a click 30 s after delivery', { kind: 'click', linkIndex: 0, at: later(30) }, {}, 'human'],
  ['delivery not recorded yet', {}, { deliveredAt: null }, 'too-soon'],
  [
    'a second link within a second of the first: a burst',
    { kind: 'click', linkIndex: 2 },
    { recentClicks: [{ linkIndex: 0, at: new Date(later(3600).getTime() - 400) }] },
    'all-links',
    true,
  ],
  [
    'the same link again within a second: no burst (a double click)',
    { kind: 'click', linkIndex: 0 },
    { recentClicks: [{ linkIndex: 0, at: new Date(later(3600).getTime() - 400) }] },
    'human',
  ],
  [
    'another link 1.5 s later: no burst',
    { kind: 'click', linkIndex: 1 },
    { recentClicks: [{ linkIndex: 0, at: new Date(later(3600).getTime() - 1500) }] },
    'human',
  ],
  [
    'a scanner user agent in a burst keeps its reason and still marks the burst',
    { kind: 'click', linkIndex: 1, userAgent: 'curl/8.5.0' },
    { recentClicks: [{ linkIndex: 0, at: later(3600) }] },
    'scanner-ua',
    true,
  ],
  ['HEAD comes first (an Apple address)', { method: 'HEAD', ip: '17.1.2.3' }, {}, 'head'],
  ['an IPv6 address outside every list', { ip: '2001:db8::1' }, {}, 'human'],
];

describe('tracking: verdicts', () => {
  for (const [name, hit, ctx, want, burst] of ROWS) {
    it(name, () => {
      const got = judge({ ...base, ...hit }, { ...baseCtx, ...ctx }, defaultRules());
      assert.equal(got.verdict === 'human' ? 'human' : got.reason, want);
      assert.equal(got.verdict === 'human', got.reason === null, 'a reason iff machine');
      assert.equal(got.burst, burst ?? false);
    });
  }

  it('networks are configurable, IPv6 too; a malformed one is refused', () => {
    const rules = { ...defaultRules(), scannerNetworks: networks(['127.0.0.0/8', '2001:db8::/32']) };
    assert.equal(judge({ ...base, ip: '127.0.0.5' }, baseCtx, rules).reason, 'scanner-network');
    assert.equal(judge({ ...base, ip: '2001:db8::7' }, baseCtx, rules).reason, 'scanner-network');
    assert.equal(judge({ ...base, ip: '40.107.22.33' }, baseCtx, rules).verdict, 'human', 'the list replaces the defaults');
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'x/8', '10.0.0.0/8/1']) assert.throws(() => networks([bad]), /not a network/);
  });

  it('the too-soon window is configurable', () => {
    const rules = { ...defaultRules(), tooSoonSeconds: 7200 };
    assert.equal(judge(base, baseCtx, rules).reason, 'too-soon');
  });
});
