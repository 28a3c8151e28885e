/**
 * A fast SMTP sink for benchmarks, run as its own process (so it does not share the gateway's core):
 * accepts everything, keeps nothing but a count, answers `count` on stdin lines with the number received.
 * usage: node --import tsx bench/sink.ts  → prints "port N" then serves.
 */
import { SMTPServer } from 'smtp-server';
import readline from 'node:readline';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  maxClients: 1000,
  onData(stream, _session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      received++;
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
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
