/**
 * Unsubscribe by the signed recipient token of a message's List-Unsubscribe link (RFC 8058 one-click, or the
 * page behind the link). The address is suppressed for the account (never mailed again) and disabled in its
 * lists. A forged or altered token names nobody.
 */
import { emailKey } from '../email.js';
import { DomainError } from '../errors.js';
import { verifyRecipientToken } from '../delivery/tokens.js';
import type { unsubscribesRepo } from '../../db/unsubscribes.js';

export interface UnsubscribeDeps {
  unsubscribes: ReturnType<typeof unsubscribesRepo>;
  secret: Buffer;
}

export function unsubscribeService(deps: UnsubscribeDeps) {
  async function recipientOf(token: string) {
    const id = verifyRecipientToken(deps.secret, token);
    const r = id === null ? undefined : await deps.unsubscribes.recipient(id);
    if (!r) throw new DomainError('NOT_FOUND', 'this unsubscribe link is not valid');
    return r;
  }
  return {
    /** The address a token is for (to show it on the confirmation page). */
    async address(token: string): Promise<string> {
      return (await recipientOf(token)).email;
    },
    /** True when this call unsubscribed the address, false when it already was. */
    async unsubscribe(token: string, how: 'one-click' | 'page' | 'mailto'): Promise<boolean> {
      const r = await recipientOf(token);
      return await deps.unsubscribes.record(r, emailKey(r.email), how);
    },
  };
}
export type UnsubscribeService = ReturnType<typeof unsubscribeService>;
