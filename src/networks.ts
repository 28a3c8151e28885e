/**
 * Networks as the configuration names them (comma lists of CIDRs) and as hosted tracking's verdicts test an
 * address against them: the defaults of TRACKING_APPLE_NETWORKS and TRACKING_SCANNER_NETWORKS, and the parser
 * both src/config.ts (to refuse a malformed one at start) and src/core/tracking/verdict.ts use. A leaf: it
 * imports nothing of Mailgate's, so the configuration does not stand above the core.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Apple's network, where Mail Privacy Protection's proxy fetches from. */
export const DEFAULT_APPLE_NETWORKS = ['17.0.0.0/8'];

/**
 * The networks mail security gateways fetch links and images from (their published mail-flow ranges, where
 * their sandboxes also run): Microsoft Exchange Online Protection / Defender, Proofpoint, Mimecast,
 * Barracuda. A sensible start, not a complete list: TRACKING_SCANNER_NETWORKS replaces it.
 */
export const DEFAULT_SCANNER_NETWORKS = [
  '40.92.0.0/15',
  '40.107.0.0/16',
  '52.100.0.0/14',
  '104.47.0.0/17',
  '67.231.144.0/20',
  '148.163.128.0/17',
  '205.139.110.0/24',
  '207.211.30.0/24',
  '216.205.24.0/24',
  '64.235.144.0/20',
  '209.222.80.0/21',
];

/** A block list of CIDRs (`a.b.c.d/n`, IPv6 too); throws on a malformed one. */
export function networks(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr, bits, extra] = cidr.trim().split('/');
    const family = addr && isIPv4(addr) ? 'ipv4' : addr && isIPv6(addr) ? 'ipv6' : null;
    const prefix = Number(bits);
    if (!family || extra !== undefined || bits === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128))
      throw new Error(`not a network: ${cidr}`);
    list.addSubnet(addr!, prefix, family);
  }
  return list;
}
