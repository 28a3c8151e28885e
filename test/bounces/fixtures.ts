/** The report fixtures of test/bounces/fixtures, with their placeholders filled and CRLF line ends. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));

export const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.eml'))
  .sort();

export function fixture(name: string, o: { rcpt: string; verp: string; messageId: string }): Buffer {
  const text = readFileSync(DIR + name, 'utf8')
    .replaceAll('{{RCPT}}', o.rcpt)
    .replaceAll('{{VERP}}', o.verp)
    .replaceAll('{{MESSAGE_ID}}', o.messageId);
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
}
