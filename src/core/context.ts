/** Who is calling: every core function takes this first. */
export interface CallContext {
  accountId: number;
  /** The API key used, when the call came through one. */
  keyId?: number;
  requestId: string;
}
