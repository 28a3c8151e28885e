/**
 * DKIM signing on the send path (mailauth's signer): RSA (rsa-sha256, or rsa-sha1 when a mailing asks for it)
 * and Ed25519 (ed25519-sha256, RFC 8463) keys, relaxed/relaxed. A signer is made once per mailing (the key
 * parsed once, the signed header list fixed); each message gets its own body hash and signature.
 *
 * A key that cannot sign (not a PEM private key, not RSA or Ed25519) makes a signer whose every message fails
 * (`general_error` naming the problem): a message is never sent unsigned when its mailing asks for a signature.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { dkimSign } = require('mailauth/lib/dkim/sign') as {
  dkimSign(
    input: Buffer,
    options: {
      canonicalization: string;
      algorithm: string;
      /** Colon-separated field names (mailauth ignores an array). */
      headerList: string;
      signatureData: { signingDomain: string; selector: string; privateKey: string }[];
    },
  ): Promise<{ signatures: string; errors: { err?: Error; message?: string }[] }>;
};

export interface DkimKey {
  domain: string;
  selector: string;
  /** PEM (PKCS#8, or PKCS#1 for RSA). */
  privateKey: string;
  /** RSA only: sha256 (default) or sha1. */
  hash?: 'sha256' | 'sha1';
  /** The header fields signed (default: DEFAULT_SIGNED_HEADERS, those present). */
  headers?: string[];
}

export interface DkimSigner {
  readonly algorithm: string;
  readonly domain: string;
  /** The message with its DKIM-Signature header first. */
  sign(raw: Buffer): Promise<Buffer>;
}

/** Signed when present: the headers a receiver shows, and those that carry the unsubscribe. */
export const DEFAULT_SIGNED_HEADERS = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'X-Mailgate-Mailing',
];

export function dkimSigner(k: DkimKey): DkimSigner {
  let algorithm: string;
  try {
    const key: KeyObject = createPrivateKey(k.privateKey);
    const type = key.asymmetricKeyType;
    if (type === 'ed25519') algorithm = 'ed25519-sha256';
    else if (type === 'rsa') algorithm = `rsa-${k.hash ?? 'sha256'}`;
    else throw new Error(`a ${type ?? 'unknown'} key: DKIM signs with RSA or Ed25519 keys`);
  } catch (e) {
    const why = `DKIM key of ${k.selector}._domainkey.${k.domain} unusable: ${(e as Error).message}`;
    return { algorithm: 'none', domain: k.domain, sign: () => Promise.reject(new Error(why)) };
  }
  const options = {
    canonicalization: 'relaxed/relaxed',
    algorithm,
    headerList: (k.headers?.length ? k.headers : DEFAULT_SIGNED_HEADERS).join(':'),
    // mailauth takes the PEM (it parses it per message: microseconds beside the signature itself).
    signatureData: [{ signingDomain: k.domain, selector: k.selector, privateKey: k.privateKey }],
  };
  return {
    algorithm,
    domain: k.domain,
    async sign(raw) {
      const r = await dkimSign(raw, options);
      if (r.errors.length) throw new Error(`DKIM signing failed: ${r.errors.map((e) => e.err?.message ?? e.message ?? String(e)).join('; ')}`);
      return Buffer.concat([Buffer.from(r.signatures), raw]);
    },
  };
}
