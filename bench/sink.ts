/**
 * A fast SMTP sink for benchmarks, run as its own process (so it does not share the gateway's core):
 * accepts everything, keeps nothing but a count, answers `count` on stdin lines with the number received, and
 * `arrived <rcpt>` with the time (epoch ms) a message for that recipient was received, 0 while none was.
 * usage: node --import tsx bench/sink.ts  → prints "port N" then serves.
 */
import { SMTPServer } from 'smtp-server';
import readline from 'node:readline';

let received = 0;
/** When each recipient's last message was received (epoch ms): the transactional latency's end point. */
const arrived = new Map<string, number>();
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  maxClients: 1000,
  onData(stream, session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      received++;
      const at = Date.now();
      for (const r of session.envelope.rcptTo) arrived.set(r.address.toLowerCase(), at);
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.server.address() as import('node:net').AddressInfo;
  console.log(`port ${addr.port}`);
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'count') console.log(`count ${received}`);
  if (line.trim() === 'reset') received = 0;
  if (line.startsWith('arrived ')) console.log(`arrived ${arrived.get(line.slice(8).trim().toLowerCase()) ?? 0}`);
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
