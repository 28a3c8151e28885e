/**
 * What the core needs from a MIME implementation (src/mime, given by the composition root): every mailing
 * keeps one whole message (header block and body, CRLF line ends) that its properties edit in place.
 */
export interface ComposeInput {
  fromEmail: string;
  fromName: string | null;
  subject: string;
  html: string | null;
  text: string | null;
}

export interface MessageSummary {
  fromEmail: string | null;
  fromName: string | null;
  subject: string;
  html: string | null;
  text: string | null;
}

export interface MessageCodec {
  compose(input: ComposeInput): Promise<Buffer>;
  /** Line ends made CRLF. */
  normalize(raw: Buffer): Buffer;
  summarize(raw: Buffer): Promise<MessageSummary>;
  /** Replace every line of a root header (null: remove them). */
  setHeader(raw: Buffer, name: string, value: string | null): Buffer;
  setFrom(raw: Buffer, name: string | null, address: string): Buffer;
  replaceHeaderBlock(raw: Buffer, header: string | Buffer): Buffer;
  replaceBody(raw: Buffer, body: string | Buffer): Buffer;
  replaceTextBodies(raw: Buffer, content: { html?: string | null | undefined; text?: string | null | undefined }): Promise<Buffer>;
}
