/**
 * DKIM for tests: key pairs made on the spot, and verification with mailauth answering the selector's TXT
 * lookup from those keys (no DNS).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { dkimVerify } = require('mailauth/lib/dkim/verify') as {
  dkimVerify: (
    input: Buffer,
    options: { resolver: (name: string, type: string) => Promise<string[][]> },
  ) => Promise<{
    results: { status: { result: string; comment?: string }; signingDomain: string; selector: string }[];
  }>;
};

export interface DkimKey {
  privateKey: string;
  /** The TXT record value (`v=DKIM1; k=rsa; p=...`). */
  txt: string;
}

/** An RSA key (2048 bits unless told), or with 'ed25519' an Ed25519 one (RFC 8463: `p=` is the raw public key). */
export function dkimKey(kind: number | 'ed25519' = 2048): DkimKey {
  if (kind === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
    return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=ed25519; p=${raw}` };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: kind });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=rsa; p=${spki}` };
}

/** The results of every DKIM-Signature of `raw`; `keys` maps `<selector>._domainkey.<domain>` to a key. */
export async function verifyDkim(raw: Buffer, keys: Record<string, DkimKey>) {
  const { results } = await dkimVerify(raw, {
    resolver: (name) => {
      const key = keys[name];
      return key ? Promise.resolve([[key.txt]]) : Promise.reject(Object.assign(new Error(`no TXT record for ${name}`), { code: 'ENOTFOUND' }));
    },
  });
  return results.map((r) => ({ result: r.status.result, domain: r.signingDomain, selector: r.selector, comment: r.status.comment }));
}
