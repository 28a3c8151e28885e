/**
 * The send path's SMTP pool (src/worker/smtp-pool.ts) against a real smtp-server on 127.0.0.1 that counts
 * its connections and can drop them: messages go raw, byte for byte; connections are reused up to
 * maxMessages and never more than maxConnections at once; a refused recipient leaves the connection usable;
 * a connection the server closed while idle costs nothing (the next message goes once, over a new one);
 * AUTH from the URL; a closed pool and a relay that is down answer as unreachable.
 */
import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { smtpPool, type SmtpError } from '../../src/worker/smtp-pool.js';
import { isUnreachable } from '../../src/worker/smtp.js';
import { waitFor } from '../support/wait.js';

interface Received {
  to: string;
  raw: Buffer;
  session: string;
}

let server: SMTPServer;
let port: number;
const received: Received[] = [];
let connections = 0;
let open = 0;
let maxOpen = 0;
let auths: string[] = [];

before(async () => {
  server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onConnect(session, cb) {
      connections++;
      open++;
      maxOpen = Math.max(maxOpen, open);
      cb();
    },
    onClose() {
      open--;
    },
    onAuth(auth, _session, cb) {
      auths.push(`${auth.username}:${auth.password}`);
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('refused')) return cb(Object.assign(new Error('5.1.1 user unknown'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo[0]!.address, raw: Buffer.concat(chunks), session: session.id });
        cb(null, `Queued as ${session.id}`);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.server.address() as AddressInfo).port;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const reset = () => {
  received.length = 0;
  connections = 0;
  maxOpen = open;
  auths = [];
};
const message = (i: number) => Buffer.from(`From: a@example.org\r\nTo: r${i}@example.org\r\nSubject: m${i}\r\n\r\nline\r\n.starts with a dot\r\n`);

describe('smtp pool', () => {
  it('sends raw messages byte for byte over at most maxConnections, renewing a connection after maxMessages', async () => {
    reset();
    const pool = smtpPool({ url: `smtp://127.0.0.1:${port}`, maxConnections: 2, maxMessages: 5, rate: 0, timeoutMs: 10_000 });
    // The callers (smtp.ts) keep one message per connection in flight: two at a time here.
    for (let i = 0; i < 20; i += 2) await Promise.all([i, i + 1].map((k) => pool.send(message(k), { from: 'bounce@example.org', to: `r${k}@example.org` })));
    pool.close();
    assert.equal(received.length, 20);
    for (const r of received) assert.ok(r.raw.equals(message(Number(/^r(\d+)@/.exec(r.to)![1]))), 'the bytes as given (dot-stuffing undone by the server)');
    assert.ok(maxOpen <= 2, `at most 2 connections at once (${maxOpen})`);
    const perConnection = new Map<string, number>();
    for (const r of received) perConnection.set(r.session, (perConnection.get(r.session) ?? 0) + 1);
    assert.ok(
      [...perConnection.values()].every((n) => n <= 5),
      'at most maxMessages per connection',
    );
    assert.equal(connections, 4, '20 messages / 5 per connection');
  });

  it('a refused recipient is an error with its reply; the connection goes on with the next message', async () => {
    reset();
    const pool = smtpPool({ url: `smtp://127.0.0.1:${port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
    await assert.rejects(
      pool.send(message(1), { from: 'b@example.org', to: 'refused@example.org' }),
      (e: SmtpError) => e.responseCode === 550 && /user unknown/.test(e.response ?? '') && !isUnreachable(e),
    );
    assert.match(await pool.send(message(2), { from: 'b@example.org', to: 'ok@example.org' }), /^250 /);
    pool.close();
    assert.deepEqual([connections, received.length], [1, 1]);
  });

  it('a connection the server dropped while idle: the next message goes exactly once, over a new one', async () => {
    reset();
    const pool = smtpPool({ url: `smtp://127.0.0.1:${port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
    await pool.send(message(1), { from: 'b@example.org', to: 'one@example.org' });
    // The server ends every connection it has (as one does with an idle client after its timeout).
    for (const c of (server as unknown as { connections: Set<{ _socket: Socket }> }).connections) c._socket.destroy();
    await waitFor('the server closed them', () => open === 0);
    await pool.send(message(2), { from: 'b@example.org', to: 'two@example.org' });
    pool.close();
    assert.deepEqual(
      received.map((r) => r.to),
      ['one@example.org', 'two@example.org'],
    );
    assert.equal(connections, 2);
  });

  it('logs in with the credentials of the URL', async () => {
    reset();
    const pool = smtpPool({ url: `smtp://relay%40example.org:s%3Acret@127.0.0.1:${port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
    await pool.send(message(1), { from: 'b@example.org', to: 'auth@example.org' });
    pool.close();
    assert.deepEqual(auths, ['relay@example.org:s:cret']);
  });

  it('a closed pool and a relay that is down answer as unreachable', async () => {
    const pool = smtpPool({ url: `smtp://127.0.0.1:${port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
    pool.close();
    await assert.rejects(pool.send(message(1), { from: 'b@example.org', to: 'x@example.org' }), (e: SmtpError) => isUnreachable(e));
    const down = smtpPool({ url: 'smtp://127.0.0.1:1', maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 5_000 });
    await assert.rejects(down.send(message(1), { from: 'b@example.org', to: 'x@example.org' }), (e: SmtpError) => isUnreachable(e));
    down.close();
  });
});
