/**
 * The smtp agent against the loopback sink: results and their log texts, dot-stuffing on the
 * wire, pipelining, STARTTLS, failures, and MX selection through a table-driven resolver
 * (no real DNS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSmtpAgent, parseSmtpNexthop, type MxResolver } from '../../src/delivery/smtp.js';
import { stuffDots } from '../../src/delivery/dotstuff.js';
import { startSink, testCertificate } from '../helpers/smtp-sink.js';
import { testConfig, testRequest, SAMPLE_MESSAGE } from './config-helper.js';

const signal = () => new AbortController().signal;
const agent = createSmtpAgent({ resolver: noDns() });

/** A resolver for tests that must not look anything up. */
function noDns(): MxResolver {
  const fail = async (name: string): Promise<never> => { throw new Error(`unexpected DNS lookup of ${name}`); };
  return { resolveMx: fail, resolve4: fail, resolve6: fail };
}

function dnsError(code: string): Error {
  return Object.assign(new Error(`query ${code}`), { code });
}

/** A resolver answering from tables; names absent from a table get `missing` (default NXDOMAIN). */
function tableDns(o: { mx?: Record<string, { exchange: string; priority: number }[] | string>; a?: Record<string, string[] | string> }): MxResolver {
  const pick = async <T>(table: Record<string, T | string> | undefined, name: string): Promise<T> => {
    const v = table?.[name];
    if (v === undefined) throw dnsError('ENOTFOUND');
    if (typeof v === 'string') throw dnsError(v);
    return v;
  };
  return {
    resolveMx: (n) => pick(o.mx, n),
    resolve4: (n) => pick(o.a, n),
    resolve6: async () => { throw dnsError('ENODATA'); },
  };
}

test('smtp: a message is sent; Postfix-style result and an exact envelope on the wire', async (t) => {
  const sink = await startSink(t);
  const cfg = testConfig();
  const [r] = await agent.deliver(testRequest(cfg, { recipients: ['b@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(r!.dsn, '2.0.0');
  assert.equal(r!.text, '250 2.0.0 Ok: queued as SINK1');
  assert.equal(r!.remoteReply, '250 2.0.0 Ok: queued as SINK1');
  assert.equal(r!.relay, `127.0.0.1[127.0.0.1]:${sink.port}`);
  assert.ok(r!.connSetup! >= 0 && r!.transmission! >= 0);
  const m = sink.messages[0]!;
  assert.equal(m.helo, 'mx.example.test');
  assert.equal(m.mailFrom, 'a@sender.test');
  assert.equal(m.mailParams, `SIZE=${Buffer.byteLength(SAMPLE_MESSAGE)}`);
  assert.deepEqual(m.rcptTo, ['b@remote.test']);
  assert.equal(m.data.toString(), SAMPLE_MESSAGE);
  assert.equal(m.tls, false);
  assert.equal(sink.commands.at(-1), 'QUIT');
});

test('smtp: 550 to RCPT bounces, 450 defers, others are sent — in one session', async (t) => {
  const sink = await startSink(t, {
    rcptReplies: {
      'unknown@remote.test': '550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown in virtual mailbox table',
      'grey@remote.test': '450 4.2.0 <grey@remote.test>: Recipient address rejected: Greylisted',
      'plain@remote.test': '550 no such user',
    },
  });
  const cfg = testConfig({ smtp_helo_name: 'out.example.test' });
  const res = await agent.deliver(testRequest(cfg, {
    recipients: ['ok1@remote.test', 'unknown@remote.test', 'grey@remote.test', 'plain@remote.test', 'ok2@remote.test'],
    nexthop: `[127.0.0.1]:${sink.port}`,
  }), signal());
  const host = '127.0.0.1[127.0.0.1]';
  assert.deepEqual(res.map((r) => [r.address, r.status, r.dsn]), [
    ['ok1@remote.test', 'sent', '2.0.0'],
    ['unknown@remote.test', 'bounced', '5.1.1'],
    ['grey@remote.test', 'deferred', '4.2.0'],
    // No enhanced code in the reply: derived from the reply code's class.
    ['plain@remote.test', 'bounced', '5.0.0'],
    ['ok2@remote.test', 'sent', '2.0.0'],
  ]);
  assert.equal(res[1]!.text, `host ${host} said: 550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)`);
  assert.equal(res[1]!.remoteReply, '550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal(res[2]!.text, `host ${host} said: 450 4.2.0 <grey@remote.test>: Recipient address rejected: Greylisted (in reply to RCPT TO command)`);
  assert.equal(sink.messages.length, 1);
  assert.deepEqual(sink.messages[0]!.rcptTo, ['ok1@remote.test', 'ok2@remote.test']);
  assert.equal(sink.messages[0]!.helo, 'out.example.test');
  assert.equal(sink.connections(), 1);
});

test('smtp: PIPELINING sends MAIL, RCPT and DATA before reading; without it, one by one', async (t) => {
  for (const pipelining of [true, false]) {
    const sink = await startSink(t, { pipelining, rcptReplies: { 'x@remote.test': '550 5.1.1 no' } });
    const res = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test', 'y@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
    assert.deepEqual(res.map((r) => r.status), ['bounced', 'sent'], `pipelining=${pipelining}`);
    assert.deepEqual(sink.commands.slice(1, 5), ['MAIL FROM:<a@sender.test> SIZE=' + Buffer.byteLength(SAMPLE_MESSAGE), 'RCPT TO:<x@remote.test>', 'RCPT TO:<y@remote.test>', 'DATA']);
  }
});

test('smtp: every recipient refused: no DATA, all bounced', async (t) => {
  const sink = await startSink(t, { pipelining: false, rcptReplies: { 'x@remote.test': '550 5.1.1 no' } });
  const res = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(res[0]!.status, 'bounced');
  assert.ok(!sink.commands.includes('DATA'));
  assert.equal(sink.messages.length, 0);
});

test('smtp: MAIL FROM refused applies to every recipient', async (t) => {
  const sink = await startSink(t, { mailReply: () => '553 5.7.1 <a@sender.test>: Sender address rejected: not owned by user' });
  const res = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test', 'y@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  for (const r of res) {
    assert.equal(r.status, 'bounced');
    assert.equal(r.dsn, '5.7.1');
    assert.match(r.text, /said: 553 5\.7\.1 <a@sender\.test>: Sender address rejected: not owned by user \(in reply to MAIL FROM command\)$/);
  }
});

test('smtp: a reply to the final dot decides for all recipients', async (t) => {
  const sink = await startSink(t, { endReply: () => '554 5.7.1 Message rejected: spam\n554 5.7.1 see https://example.test/why' });
  const res = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test', 'y@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  for (const r of res) {
    assert.equal(r.status, 'bounced');
    assert.equal(r.text, 'host 127.0.0.1[127.0.0.1] said: 554 5.7.1 Message rejected: spam see https://example.test/why (in reply to end of DATA command)');
  }
});

test('smtp: connection refused defers with 4.4.1 and relay=none', async (t) => {
  const sink = await startSink(t, { mode: 'refuse' });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.deepEqual({ status: r!.status, dsn: r!.dsn, relay: r!.relay, text: r!.text },
    { status: 'deferred', dsn: '4.4.1', relay: 'none', text: `connect to 127.0.0.1[127.0.0.1]:${sink.port}: Connection refused` });
});

test('smtp: the next destination is tried when one refuses connections', async (t) => {
  const down = await startSink(t, { mode: 'refuse' });
  const up = await startSink(t);
  const [r] = await agent.deliver(testRequest(testConfig(), {
    recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${down.port}, [127.0.0.1]:${up.port}`,
  }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(r!.relay, `127.0.0.1[127.0.0.1]:${up.port}`);
});

test('smtp: dot-stuffing — lines starting with "." arrive intact whatever the chunking', async (t) => {
  const sink = await startSink(t);
  const msg = '.starts with a dot\r\nSubject: dots\r\n\r\n.\r\n..\r\n...three\r\nmiddle . dot\r\n.\r\nend.\r\n.';
  const expected = msg + '\r\n'; // a last line without CRLF is completed before the terminator
  for (const chunkSize of [1, 2, 3, 7, 65536]) {
    await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}`, message: msg, chunkSize }), signal());
  }
  assert.equal(sink.messages.length, 5);
  for (const m of sink.messages) {
    assert.equal(m.data.toString(), expected);
    assert.equal(m.raw.toString(), '..starts with a dot\r\nSubject: dots\r\n\r\n..\r\n...\r\n....three\r\nmiddle . dot\r\n..\r\nend.\r\n..\r\n.\r\n');
  }
});

test('dotstuff: bare LF becomes CRLF; CRLF split across chunks is kept; empty message is just the terminator', async () => {
  const collect = async (chunks: string[]) => {
    const out: Buffer[] = [];
    for await (const b of stuffDots(chunks.map((c) => Buffer.from(c)))) out.push(b);
    return Buffer.concat(out).toString();
  };
  assert.equal(await collect(['a\n.b\n']), 'a\r\n..b\r\n.\r\n');
  assert.equal(await collect(['a\r', '\n.', 'b\r\n']), 'a\r\n..b\r\n.\r\n');
  assert.equal(await collect(['x\r']), 'x\r\n.\r\n');
  assert.equal(await collect([]), '.\r\n');
});

test('smtp: STARTTLS is used when offered, and not required at level may', async (t) => {
  const cert = testCertificate(t);
  if ('reason' in cert) { t.skip(cert.reason); return; }
  const withTls = await startSink(t, { tls: cert });
  const without = await startSink(t);
  const cfg = testConfig(); // smtp_tls_security_level = may (mxguard default)
  const [a] = await agent.deliver(testRequest(cfg, { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${withTls.port}` }), signal());
  const [b] = await agent.deliver(testRequest(cfg, { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${without.port}` }), signal());
  assert.equal(a!.status, 'sent');
  assert.equal(b!.status, 'sent');
  assert.equal(withTls.messages[0]!.tls, true);
  assert.equal(without.messages[0]!.tls, false);
  // RFC 3207 §4.2: EHLO again after the handshake.
  assert.deepEqual(withTls.commands.slice(0, 3), ['EHLO mx.example.test', 'STARTTLS', 'EHLO mx.example.test']);
  // Level none: STARTTLS is not even tried.
  const plain = await startSink(t, { tls: cert });
  await agent.deliver(testRequest(testConfig({ smtp_tls_security_level: 'none' }), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${plain.port}` }), signal());
  assert.equal(plain.messages[0]!.tls, false);
});

test('smtp: a failed TLS handshake at level may is retried in plaintext; at encrypt it defers', async (t) => {
  const sink = await startSink(t, { brokenTls: true });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(sink.connections(), 2);
  assert.equal(sink.messages[0]!.tls, false);
  assert.ok(!sink.commands.slice(sink.commands.indexOf('STARTTLS') + 1).includes('STARTTLS'), 'no STARTTLS on the second connection');

  const strict = await startSink(t, { brokenTls: true });
  const [e] = await agent.deliver(testRequest(testConfig({ smtp_tls_security_level: 'encrypt' }), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${strict.port}` }), signal());
  assert.equal(e!.status, 'deferred');
  assert.equal(e!.dsn, '4.7.5');
  assert.match(e!.text, /^Cannot start TLS: handshake failure with 127\.0\.0\.1\[127\.0\.0\.1\]/);
  assert.equal(strict.connections(), 1);
  assert.equal(strict.messages.length, 0);
});

test('smtp: a server that hangs up before its greeting defers', async (t) => {
  const sink = await startSink(t, { mode: 'close-on-connect' });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.4.2');
  assert.equal(r!.text, 'lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting');
});

test('smtp: level encrypt defers when the server offers no STARTTLS', async (t) => {
  const sink = await startSink(t);
  const [r] = await agent.deliver(testRequest(testConfig({ smtp_tls_security_level: 'encrypt' }), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.7.4');
  assert.equal(r!.text, 'TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]');
  assert.equal(sink.messages.length, 0);
});

test('smtp: a message over the server\'s SIZE limit bounces without being sent', async (t) => {
  const sink = await startSink(t, { size: 10 });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'bounced');
  assert.equal(r!.dsn, '5.3.4');
  assert.match(r!.text, /^message size \d+ exceeds size limit 10 of server 127\.0\.0\.1\[127\.0\.0\.1\]$/);
  assert.ok(!sink.commands.some((c) => c.startsWith('MAIL')));
});

test('smtp: a 5xx greeting defers (smtp_skip_5xx_greeting) and says who refused', async (t) => {
  const sink = await startSink(t, { greeting: '554 5.3.2 sink.test closed for maintenance' });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.3.2');
  assert.equal(r!.text, 'host 127.0.0.1[127.0.0.1] refused to talk to me: 554 5.3.2 sink.test closed for maintenance');
});

test('smtp: a server that refuses EHLO gets HELO', async (t) => {
  const sink = await startSink(t, { ehloReply: '502 5.5.2 Error: command not recognized' });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(sink.commands[1], 'HELO mx.example.test');
  assert.equal(sink.messages[0]!.mailParams, ''); // no SIZE= without EHLO
});

test('smtp: connection lost after RCPT defers with the stage in the text', async (t) => {
  const sink = await startSink(t, { mode: 'close-after-rcpt' });
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.4.2');
  assert.match(r!.text, /^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while sending (RCPT TO|DATA command)$/);
  assert.equal(r!.relay, `127.0.0.1[127.0.0.1]:${sink.port}`);
});

test('smtp: connection lost during the message defers', async (t) => {
  const sink = await startSink(t, { mode: 'close-in-data' });
  const big = 'Subject: big\r\n\r\n' + 'x'.repeat(998).concat('\r\n').repeat(2000);
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}`, message: big }), signal());
  assert.equal(r!.status, 'deferred');
  assert.match(r!.text, /^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while sending (message body|end of data -- message may be sent more than once)$/);
});

test('smtp: a silent server times out (smtp_helo_timeout)', async (t) => {
  const sink = await startSink(t, { mode: 'silent' });
  const [r] = await agent.deliver(testRequest(testConfig({ smtp_helo_timeout: '1s' }), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.4.2');
  assert.equal(r!.text, 'conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting');
});

test('smtp: the caller\'s AbortSignal ends a delivery at once', async (t) => {
  const sink = await startSink(t, { mode: 'silent' });
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('shutting down')), 100);
  const started = Date.now();
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}` }), ac.signal);
  assert.ok(Date.now() - started < 5000);
  assert.equal(r!.status, 'deferred');
  assert.match(r!.text, /shutting down/);
});

test('smtp: a spool read error drops the connection without the final dot', async (t) => {
  const sink = await startSink(t);
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: `[127.0.0.1]:${sink.port}`, chunkSize: 8, failAfter: 16 }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.3.0');
  assert.match(r!.text, /spool file read error/);
  assert.equal(sink.messages.length, 0);
});

test('smtp: nexthop syntax', () => {
  assert.deepEqual(parseSmtpNexthop('[192.0.2.1]:587'), [{ host: '192.0.2.1', port: 587, mx: false }]);
  assert.deepEqual(parseSmtpNexthop('[IPv6:2001:db8::1]'), [{ host: '2001:db8::1', port: 25, mx: false }]);
  assert.deepEqual(parseSmtpNexthop('[relay.test]:submission'), [{ host: 'relay.test', port: 587, mx: false }]);
  assert.deepEqual(parseSmtpNexthop('Example.NET.'), [{ host: 'example.net', port: 25, mx: true }]);
  assert.deepEqual(parseSmtpNexthop('example.net:2525'), [{ host: 'example.net', port: 2525, mx: true }]);
  assert.throws(() => parseSmtpNexthop('[x]:99999'), /bad port/);
});

test('smtp: a bad nexthop is a configuration error that keeps the mail', async () => {
  const [r] = await agent.deliver(testRequest(testConfig(), { recipients: ['x@remote.test'], nexthop: '[127.0.0.1]:notaport' }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.3.5');
});

test('smtp MX: preference order, failover to the next MX, relay names the MX host', async (t) => {
  const sink = await startSink(t);
  const dns = tableDns({
    mx: { 'example.net': [{ exchange: 'mx2.example.net', priority: 20 }, { exchange: 'mx1.example.net', priority: 10 }] },
    // mx1 is on a loopback address where nothing listens: refused, so mx2 is tried.
    a: { 'mx1.example.net': ['127.0.0.2'], 'mx2.example.net': ['127.0.0.1'] },
  });
  const [r] = await createSmtpAgent({ resolver: dns }).deliver(testRequest(testConfig(), { recipients: ['x@example.net'], nexthop: `example.net:${sink.port}` }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(r!.relay, `mx2.example.net[127.0.0.1]:${sink.port}`);
});

test('smtp MX: no MX record → the domain\'s own address (implicit MX)', async (t) => {
  const sink = await startSink(t);
  const dns = tableDns({ mx: { 'example.net': 'ENODATA' }, a: { 'example.net': ['127.0.0.1'] } });
  const [r] = await createSmtpAgent({ resolver: dns }).deliver(testRequest(testConfig(), { recipients: ['x@example.net'], nexthop: `example.net:${sink.port}` }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(r!.relay, `example.net[127.0.0.1]:${sink.port}`);
});

test('smtp MX: null MX, NXDOMAIN, temporary failure, MX pointing back to us', async () => {
  const dns = tableDns({
    mx: {
      'nullmx.test': [{ exchange: '', priority: 0 }],
      'servfail.test': 'ESERVFAIL',
      'loop.test': [{ exchange: 'mx.example.test', priority: 10 }, { exchange: 'backup.loop.test', priority: 20 }],
      'noaddr.test': [{ exchange: 'mx.noaddr.test', priority: 10 }],
      'tempaddr.test': [{ exchange: 'mx.tempaddr.test', priority: 10 }],
    },
    a: { 'mx.tempaddr.test': 'ETIMEOUT' },
  });
  const a = createSmtpAgent({ resolver: dns });
  const one = async (domain: string) => (await a.deliver(testRequest(testConfig(), { recipients: [`x@${domain}`], nexthop: domain }), signal()))[0]!;
  const pick = (r: Awaited<ReturnType<typeof one>>) => ({ status: r.status, dsn: r.dsn, relay: r.relay, text: r.text });

  assert.deepEqual(pick(await one('nullmx.test')), { status: 'bounced', dsn: '5.1.10', relay: 'none', text: 'Domain nullmx.test does not accept mail (nullMX)' });
  assert.deepEqual(pick(await one('nxdomain.test')), { status: 'bounced', dsn: '5.4.4', relay: 'none', text: 'Host or domain name not found. Name service error for name=nxdomain.test type=MX: Host not found' });
  assert.deepEqual(pick(await one('servfail.test')), { status: 'deferred', dsn: '4.4.3', relay: 'none', text: 'Host or domain name not found. Name service error for name=servfail.test type=MX: Host not found, try again' });
  // RFC 5321 §5.1: we are the best MX, so no MX is usable.
  assert.deepEqual(pick(await one('loop.test')), { status: 'bounced', dsn: '5.4.6', relay: 'none', text: 'mail for loop.test loops back to myself' });
  assert.deepEqual(pick(await one('noaddr.test')), { status: 'bounced', dsn: '5.4.4', relay: 'none', text: 'Host or domain name not found. Name service error for name=mx.noaddr.test type=A: Host not found' });
  assert.equal((await one('tempaddr.test')).dsn, '4.4.3');
});

test('smtp: BODY=8BITMIME and SMTPUTF8 are passed on when offered; SMTPUTF8 mail to a server without it bounces 5.6.7', async (t) => {
  const cfg = testConfig();
  const modern = await startSink(t, { extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'] });
  const [ok] = await agent.deliver({ ...testRequest(cfg, { recipients: ['b@remote.test'], nexthop: `[127.0.0.1]:${modern.port}` }), body: '8BITMIME', smtputf8: true }, signal());
  assert.equal(ok!.status, 'sent');
  assert.equal(modern.messages[0]!.mailParams, 'BODY=8BITMIME SMTPUTF8');
  const old = await startSink(t, { extensions: ['PIPELINING'] });
  const [eight] = await agent.deliver({ ...testRequest(cfg, { recipients: ['b@remote.test'], nexthop: `[127.0.0.1]:${old.port}` }), body: '8BITMIME' }, signal());
  assert.equal(eight!.status, 'sent', '8BITMIME is not required of the next hop');
  assert.equal(old.messages[0]!.mailParams, '');
  const [utf8] = await agent.deliver({ ...testRequest(cfg, { recipients: ['b@remote.test'], nexthop: `[127.0.0.1]:${old.port}` }), smtputf8: true }, signal());
  assert.deepEqual([utf8!.status, utf8!.dsn], ['bounced', '5.6.7']);
  assert.match(utf8!.text, /SMTPUTF8 is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]/);
});
