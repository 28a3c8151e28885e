/**
 * The send path's own SMTP conversation (src/worker/smtp-client.ts) against real smtp-servers on 127.0.0.1,
 * seen on the wire through a TCP relay that records every chunk the client writes: MAIL, RCPT and DATA in
 * one write when the server announces PIPELINING, one by one when it does not; STARTTLS and smtps:// (a
 * self-signed certificate, refused unless the URL says `tls.rejectUnauthorized=false`); AUTH PLAIN and
 * LOGIN; BODY=8BITMIME and SMTPUTF8 only when announced and needed, and the pool telling whether the relay takes 8bit; dot-stuffing and bare LFs; a pipelined
 * group refused at RCPT leaves the connection usable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { dataBytes } from '../../src/worker/smtp-client.js';
import { smtpPool, type SmtpError } from '../../src/worker/smtp-pool.js';
import { isUnreachable } from '../../src/worker/smtp.js';
import { selfSignedCertificate } from '../support/process.js';

interface Got {
  raw: Buffer;
  mailArgs: Record<string, string> | false;
  secure: boolean;
  user: string | undefined;
  to: string;
}

/** A real smtp-server with `opts`, what it received, and a recording relay in front of it. */
async function relayedServer(opts: Partial<SMTPServerOptions>) {
  const got: Got[] = [];
  const auths: string[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    ...opts,
    onAuth(auth, _s, cb) {
      auths.push(`${auth.method} ${auth.username}:${auth.password}`);
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _s, cb) {
      if (address.address.startsWith('refused')) return cb(Object.assign(new Error('5.1.1 user unknown'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        got.push({
          raw: Buffer.concat(chunks),
          mailArgs: session.envelope.mailFrom ? (session.envelope.mailFrom.args as Record<string, string> | false) : false,
          secure: session.secure,
          user: session.user as string | undefined,
          to: session.envelope.rcptTo[0]!.address,
        });
        cb(null, 'Queued');
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const target = (server.server.address() as AddressInfo).port;
  // What the client writes, chunk by chunk (loopback delivers one write as one chunk).
  const writes: string[] = [];
  const relay = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1');
    client.on('data', (c) => {
      writes.push(c.toString('latin1'));
      up.write(c);
    });
    up.on('data', (c) => client.write(c));
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('close', end);
    up.on('close', end);
    client.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as AddressInfo).port;
  return {
    port,
    got,
    auths,
    writes,
    async close() {
      await new Promise<void>((r) => relay.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const message = (body: string) => Buffer.from(`From: a@example.org\r\nTo: r@example.org\r\nSubject: s\r\n\r\n${body}`, 'utf8');
const send1 = async (url: string, raw: Buffer, to = 'r@example.org', from = 'bounce@example.org') => {
  const pool = smtpPool({ url, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
  try {
    return await pool.send(raw, { from, to });
  } finally {
    pool.close();
  }
};

let dir: string;
let cert: { cert: string; key: string };
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailgate-smtp-client-'));
  cert = selfSignedCertificate(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SMTP client', () => {
  it('pipelines MAIL, RCPT and DATA in one write when the server announces PIPELINING, and not otherwise', async () => {
    for (const hidden of [false, true]) {
      const s = await relayedServer({ disabledCommands: ['STARTTLS'], hidePIPELINING: hidden });
      try {
        const pool = smtpPool({ url: `smtp://127.0.0.1:${s.port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
        for (let i = 0; i < 3; i++) assert.match(await pool.send(message(`m${i}\r\n`), { from: 'b@example.org', to: `r${i}@example.org` }), /^250 /);
        pool.close();
        assert.deepEqual(
          s.got.map((g) => g.to),
          ['r0@example.org', 'r1@example.org', 'r2@example.org'],
        );
        const grouped = s.writes.filter((w) => /^MAIL FROM:<b@example\.org>\r\nRCPT TO:<r\d@example\.org>\r\nDATA\r\n$/.test(w));
        const alone = s.writes.filter((w) => /^(MAIL FROM:<b@example\.org>|RCPT TO:<r\d@example\.org>|DATA)\r\n$/.test(w));
        if (!hidden) assert.deepEqual([grouped.length, alone.length], [3, 0], `one write per envelope: ${JSON.stringify(s.writes)}`);
        else assert.deepEqual([grouped.length, alone.length], [0, 9], `one write per command: ${JSON.stringify(s.writes)}`);
      } finally {
        await s.close();
      }
    }
  });

  it('a pipelined group refused at RCPT (DATA refused with it) leaves the connection usable', async () => {
    const s = await relayedServer({ disabledCommands: ['STARTTLS'] });
    try {
      const pool = smtpPool({ url: `smtp://127.0.0.1:${s.port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
      await assert.rejects(
        pool.send(message('x\r\n'), { from: 'b@example.org', to: 'refused@example.org' }),
        (e: SmtpError) => e.code === 'EENVELOPE' && e.responseCode === 550 && e.command === 'RCPT TO' && !isUnreachable(e),
      );
      await assert.rejects(pool.send(message('x\r\n'), { from: 'b@example.org', to: 'refused2@example.org' }), (e: SmtpError) => e.responseCode === 550);
      assert.match(await pool.send(message('y\r\n'), { from: 'b@example.org', to: 'ok@example.org' }), /^250 /);
      pool.close();
      assert.deepEqual(
        s.got.map((g) => [g.to, g.raw.toString()]),
        [['ok@example.org', message('y\r\n').toString()]],
      );
      assert.equal(s.writes.filter((w) => w.startsWith('EHLO')).length, 1, 'one connection throughout');
    } finally {
      await s.close();
    }
  });

  it('dot-stuffs, makes bare LFs CRLF and ends the data however the message ends', async () => {
    const cases: [string, Buffer, string][] = [
      ['dots', Buffer.from('.a\r\n..b\r\nc.\r\n.\r\n'), '..a\r\n...b\r\nc.\r\n..\r\n.\r\n'],
      ['bare LF', Buffer.from('a\n.b\nc'), 'a\r\n..b\r\nc\r\n.\r\n'],
      ['no final line break', Buffer.from('a\r\nb'), 'a\r\nb\r\n.\r\n'],
      ['empty', Buffer.alloc(0), '.\r\n'],
    ];
    for (const [name, raw, wire] of cases) assert.equal(dataBytes(raw).toString('latin1'), wire, name);
    const s = await relayedServer({ disabledCommands: ['STARTTLS'] });
    try {
      await send1(`smtp://127.0.0.1:${s.port}`, message('.one\n..two\r\n.\r\nend'));
      assert.equal(s.got[0]!.raw.toString(), message('.one\r\n..two\r\n.\r\nend\r\n').toString());
    } finally {
      await s.close();
    }
  });

  it('BODY=8BITMIME for 8-bit bytes and SMTPUTF8 for a non-ASCII address, when announced; neither otherwise', async () => {
    const s = await relayedServer({ disabledCommands: ['STARTTLS'] });
    try {
      await send1(`smtp://127.0.0.1:${s.port}`, message('ascii\r\n'));
      await send1(`smtp://127.0.0.1:${s.port}`, message('Grüße\r\n'));
      await send1(`smtp://127.0.0.1:${s.port}`, message('ascii\r\n'), 'josé@example.org');
      assert.deepEqual(
        s.got.map((g) => g.mailArgs),
        [false, { BODY: '8BITMIME' }, { SMTPUTF8: true }].map((a) => a),
      );
      assert.equal(s.got[2]!.to, 'josé@example.org');
    } finally {
      await s.close();
    }
    // What the pool tells the message builder (8bit bodies only to a relay that announced 8BITMIME).
    for (const hide of [false, true]) {
      const r = await relayedServer({ disabledCommands: ['STARTTLS'], hide8BITMIME: hide });
      const pool = smtpPool({ url: `smtp://127.0.0.1:${r.port}`, maxConnections: 1, maxMessages: 100, rate: 0, timeoutMs: 10_000 });
      assert.equal(pool.eightBitMime(), false, 'unknown before the first connection');
      await pool.send(message('x\r\n'), { from: 'b@example.org', to: 'r@example.org' });
      assert.equal(pool.eightBitMime(), !hide);
      pool.close();
      await r.close();
    }
    const plain = await relayedServer({ disabledCommands: ['STARTTLS'], hide8BITMIME: true, hideSMTPUTF8: true });
    try {
      await send1(`smtp://127.0.0.1:${plain.port}`, message('Grüße\r\n'));
      assert.equal(plain.got[0]!.mailArgs, false);
      assert.ok(plain.got[0]!.raw.equals(message('Grüße\r\n')), 'the bytes as given');
    } finally {
      await plain.close();
    }
  });

  it('STARTTLS when announced and smtps://, verifying the certificate unless the URL says otherwise', async () => {
    const tls = { key: readFileSync(cert.key), cert: readFileSync(cert.cert) };
    const starttls = await relayedServer(tls);
    try {
      await assert.rejects(
        send1(`smtp://127.0.0.1:${starttls.port}`, message('x\r\n')),
        (e: SmtpError) => e.code === 'ETLS' && /self-signed|certificate/i.test(e.message),
      );
      assert.equal(starttls.got.length, 0, 'nothing sent over an unverified connection');
      await send1(`smtp://127.0.0.1:${starttls.port}?tls.rejectUnauthorized=false`, message('over tls\r\n'));
      assert.deepEqual(
        starttls.got.map((g) => g.secure),
        [true],
      );
      assert.ok(!starttls.writes.some((w) => w.includes('over tls')), 'the message never crossed the wire in clear');
      // ignoreTLS: the conversation stays in clear.
      await send1(`smtp://127.0.0.1:${starttls.port}?ignoreTLS=true`, message('in clear\r\n'));
      assert.equal(starttls.got[1]!.secure, false);
    } finally {
      await starttls.close();
    }
    const clear = await relayedServer({ disabledCommands: ['STARTTLS'] });
    try {
      await assert.rejects(send1(`smtp://127.0.0.1:${clear.port}?requireTLS=true`, message('x\r\n')), (e: SmtpError) => e.code === 'ETLS');
      assert.equal(clear.got.length, 0);
    } finally {
      await clear.close();
    }
    const smtps = await relayedServer({ ...tls, secure: true });
    try {
      await send1(`smtps://127.0.0.1:${smtps.port}?tls.rejectUnauthorized=false`, message('implicit tls\r\n'));
      assert.deepEqual(
        smtps.got.map((g) => g.secure),
        [true],
      );
    } finally {
      await smtps.close();
    }
  });

  it('AUTH PLAIN when offered, else LOGIN; a refused login is an error, not unreachable', async () => {
    for (const methods of [['PLAIN', 'LOGIN'], ['LOGIN']]) {
      const s = await relayedServer({ disabledCommands: ['STARTTLS'], authMethods: methods });
      try {
        await send1(`smtp://us%40er:p%C3%A4ss%2525@127.0.0.1:${s.port}`, message('x\r\n'));
        assert.deepEqual(s.auths, [`${methods[0]} us@er:päss%25`], 'percent-decoded once');
        assert.equal(s.got[0]!.user, 'us@er');
      } finally {
        await s.close();
      }
    }
    const refusing = new SMTPServer({ logger: false, disabledCommands: ['STARTTLS'], onAuth: (_a, _s, cb) => cb(new Error('Invalid username or password')) });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const port = (refusing.server.address() as AddressInfo).port;
      await assert.rejects(
        send1(`smtp://u:wrong@127.0.0.1:${port}`, message('x\r\n')),
        (e: SmtpError) => e.code === 'EAUTH' && e.responseCode === 535 && !isUnreachable(e),
      );
    } finally {
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });

  it('a server whose reply never ends (no line end, or endless continuation lines) fails the connection, nothing more', async () => {
    for (const flood of ['x'.repeat(100_000), '250-x\r\n'.repeat(2_000)]) {
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        socket.write('220 mx.example ESMTP\r\n');
        socket.once('data', () => socket.write(flood));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as AddressInfo).port;
        await assert.rejects(send1(`smtp://127.0.0.1:${port}`, message('x\r\n')), (e: SmtpError) => e.code === 'EPROTOCOL' && /too long/.test(e.message));
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });
});
