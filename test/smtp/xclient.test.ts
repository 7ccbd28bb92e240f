/**
 * XCLIENT (XCLIENT_README, smtpd_authorized_xclient_hosts): the parser on its own, the command
 * on the wire against a real gateway, and a differential run of the same XCLIENT sequences
 * against a private Postfix 3.7 (test/helpers/postfix.ts), comparing every reply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedGateway, startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { startPostfix } from '../helpers/postfix.js';
import { freePort } from '../helpers/ports.js';
import { normalizeClientAddress, parseXclient, smtpTokens, xtextDecode, xtextEncode } from '../../src/smtp/xclient.js';
import { validHostname } from '../../src/engine/restrictions/hostname-syntax.js';

// ---- the parser ---------------------------------------------------------------------------

test('xtext: +XX decodes in either case; invalid xtext is reported as such', () => {
  assert.equal(xtextDecode('a+20b+2e')?.toString(), 'a b.');
  assert.equal(xtextDecode('foo+ZZ'), undefined);
  assert.equal(xtextDecode('foo+2'), undefined);
  assert.equal(xtextEncode('a b=c+d'), 'a+20b+3Dc+2Bd');
});

test('addresses are normalised as Postfix keeps them', () => {
  assert.equal(normalizeClientAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeClientAddress('01.2.3.4'), '1.2.3.4');
  assert.equal(normalizeClientAddress('1.2.3.0255'), '1.2.3.173'); // inet_aton reads a leading 0 as octal
  assert.equal(normalizeClientAddress('08.1.1.1'), undefined);
  assert.equal(normalizeClientAddress('1.2.3.256'), undefined);
  assert.equal(normalizeClientAddress('127.1'), undefined);
  assert.equal(normalizeClientAddress('IPv6:2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(normalizeClientAddress('ipv6:::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(normalizeClientAddress('::1'), undefined);
  assert.equal(normalizeClientAddress('IPv6:fe80::1%eth0'), undefined);
  assert.equal(normalizeClientAddress('IPv6:1.2.3.4'), undefined);
});

test('host names follow valid_hostname()', () => {
  for (const ok of ['a.example', 'foo_bar.example', '1abc.example', 'x']) assert.ok(validHostname(ok), ok);
  for (const bad of ['foo.', 'a..b', '-a.b', 'a-.b', '1.2.3.4', '1.2.3.4.5', 'bad!', `${'a'.repeat(64)}.b`]) assert.ok(!validHostname(bad), bad);
});

test('arguments are split as smtpd_token() splits them: quotes and <> hold spaces', () => {
  assert.deepEqual(smtpTokens(' NAME=a  ADDR=1.2.3.4 '), ['NAME=a', 'ADDR=1.2.3.4']);
  assert.deepEqual(smtpTokens('HELO=x"; PROTO=SMTP ADDR=1'), ['HELO=x"; PROTO=SMTP ADDR=1']);
  assert.deepEqual(smtpTokens('HELO=<a b> NAME=c'), ['HELO=<a b>', 'NAME=c']);
});

test('parseXclient: replies for each kind of error, and what was applied before it', () => {
  const err = (s: string) => { const r = parseXclient(s); assert.ok(!r.ok, s); return `${r.reply.code} ${r.reply.status} ${r.reply.text[0]}`; };
  assert.equal(err('foo'), '501 5.4 Error: attribute=value expected');
  assert.equal(err('NAME='), '501 5.4 Error: attribute=value expected');
  assert.equal(err(`FOO=${'x'.repeat(256)}`), '501 5.4 Error: attribute value too long');
  assert.equal(err('foo=bar'), '501 5.4 Bad XCLIENT attribute name: foo');
  assert.equal(err('name=bad!'), '501 5.4 Bad NAME syntax: bad!');
  assert.equal(err('NAME=foo+2e'), '501 5.4 Bad NAME syntax: foo.');
  assert.equal(err('NAME=foo+ZZ'), '501 5.4 Bad NAME syntax: foo+ZZ');
  assert.equal(err('PORT=123456'), '501 5.4 Bad PORT syntax: 123456');
  assert.equal(err('PROTO=[UNAVAILABLE]'), '501 5.4 Bad PROTO syntax: [UNAVAILABLE]');
  assert.equal(err('DESTADDR=x'), '501 5.4 Bad DESTADDR syntax: x');
  const partial = parseXclient('ADDR=192.0.2.9 NAME=bad+ZZ');
  assert.ok(!partial.ok);
  assert.deepEqual(partial.partial, [{ attr: 'ADDR', value: '192.0.2.9' }]);
  const good = parseXclient('name=[tempunavail] HELO=a+20b<c> LOGIN=bob+20smith PROTO=esmtp PORT=+31');
  assert.ok(good.ok);
  assert.deepEqual(good.attributes, [
    { attr: 'NAME', value: 'unknown', available: false, status: 'temporary' }, { attr: 'HELO', value: 'a?b?c?' },
    { attr: 'LOGIN', value: 'bob smith' }, { attr: 'PROTO', value: 'ESMTP' }, { attr: 'PORT', value: 1 },
  ]);
});

// ---- on the wire ----------------------------------------------------------------------------

const shared = sharedGateway({
  smtpd_authorized_xclient_hosts: '127.0.0.1',
  mynetworks: '127.0.0.0/8',
  smtpd_hard_error_limit: '50',
});

async function client(t: { after: (f: () => void) => void }, localAddress = '127.0.0.1'): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(shared.gw.port, { localAddress });
  t.after(() => c.destroy());
  assert.equal((await c.read()).code, 220);
  return c;
}

const line = (r: { code: number; status?: string; text: string[] }) => `${r.code}${r.status ? ' ' + r.status : ''} ${r.text.join('|')}`;

test('EHLO offers XCLIENT only to authorised clients; others get 550 5.7.0', async (t) => {
  const c = await client(t);
  const e = await c.cmd('EHLO proxy.example');
  assert.ok(e.text.includes('XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT'), e.text.join('\n'));
  assert.ok(e.text.indexOf('XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT') < e.text.indexOf('ENHANCEDSTATUSCODES'));
  const o = await client(t, '127.0.0.9');
  assert.ok(!(await o.cmd('EHLO other.example')).text.some((l) => l.startsWith('XCLIENT')));
  assert.equal(line(await o.cmd('XCLIENT NAME=a.example')), '550 5.7.0 Error: insufficient authorization');
  assert.equal(line(await o.cmd('XCLIENT')), '501 5.5.4 Syntax: XCLIENT attribute=value...');
});

test('a successful XCLIENT restarts the session with a greeting and the new client drives decisions and logs', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO proxy.example');
  const g = await c.cmd(`XCLIENT NAME=mua.example ADDR=192.0.2.7 PORT=4711 HELO=${xtextEncode('laptop.example')}`);
  assert.equal(line(g), '220 mx.example.test ESMTP mxguard');
  // The new client is not authorised: no XCLIENT in EHLO, and a second XCLIENT is refused.
  assert.ok(!(await c.cmd('EHLO laptop.example')).text.some((l) => l.startsWith('XCLIENT')));
  assert.equal((await c.cmd('XCLIENT NAME=b.example')).code, 550);
  await c.cmd('MAIL FROM:<bob@remote.test>');
  assert.equal(line(await c.cmd('RCPT TO:<x@elsewhere.test>')), '454 4.7.1 <x@elsewhere.test>: Relay access denied'); // defer_unauth_destination
  assert.equal((await c.cmd('QUIT')).code, 221);
  await shared.gw.waitLog(/disconnect from mua\.example\[192\.0\.2\.7\] ehlo=2 xclient=0\/2 mail=1 rcpt=0\/1 quit=1 commands=4\/7/);
  const log = shared.gw.log();
  assert.match(log, /NOQUEUE: reject: RCPT from mua\.example\[192\.0\.2\.7\]: 454 4\.7\.1 <x@elsewhere\.test>: Relay access denied; from=<bob@remote\.test> to=<x@elsewhere\.test> proto=ESMTP helo=<laptop\.example>/);
});

test('XCLIENT LOGIN authenticates for the engine, is logged as sasl_method=XCLIENT, and shows in Received:', async (t) => {
  const c = await client(t);
  assert.equal((await c.cmd('XCLIENT LOGIN=alice+40corp ADDR=192.0.2.8 NAME=[UNAVAILABLE] HELO=pc.example')).code, 220);
  // permit_sasl_authenticated lets the impersonated client relay (smtpd_relay_restrictions default).
  await c.cmd('MAIL FROM:<alice@example.test>');
  assert.equal((await c.cmd('RCPT TO:<friend@elsewhere.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  assert.equal((await c.cmd('Subject: via xclient\r\n\r\nhello\r\n.')).code, 250);
  await c.cmd('QUIT');
  const m = await shared.gw.waitLog(/([0-9A-F]+): client=unknown\[192\.0\.2\.8\], sasl_method=XCLIENT, sasl_username=alice@corp/);
  assert.ok(m);
  const dir = join(shared.gw.mailDir, 'example.test', 'alice', 'new');
  const end = Date.now() + 10000;
  while ((!existsSync(dir) || readdirSync(dir).length === 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  const msg = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).find((x) => x.includes('via xclient'));
  assert.ok(msg, 'message delivered');
  assert.match(msg, /^Received: from pc\.example \(unknown \[192\.0\.2\.8\]\)/m);
});

test('XCLIENT is refused inside a transaction; errors name the attribute; earlier attributes of a bad command stay', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO proxy.example');
  await c.cmd('MAIL FROM:<a@remote.test>');
  assert.equal(line(await c.cmd('XCLIENT NAME=x.example')), '503 5.5.1 Error: MAIL transaction in progress');
  assert.equal((await c.cmd('RSET')).code, 250);
  assert.equal(line(await c.cmd('XCLIENT FOO=bar')), '501 5.5.4 Bad XCLIENT attribute name: FOO');
  assert.equal(line(await c.cmd('XCLIENT ADDR=1.2.3')), '501 5.5.4 Bad ADDR syntax: 1.2.3');
  assert.equal(line(await c.cmd('XCLIENT ADDR=IPv6:2001:db8::5 NAME=bad+ZZ')), '501 5.5.4 Bad NAME syntax: bad+ZZ');
  // The address took effect (Postfix applies attributes in order); the log name follows at the next success.
  await c.cmd('MAIL FROM:<a@remote.test>');
  assert.equal((await c.cmd('RCPT TO:<x@elsewhere.test>')).code, 454);
  await c.cmd('QUIT');
  await shared.gw.waitLog(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 454 4\.7\.1 <x@elsewhere\.test>.*proto=ESMTP helo=<proxy\.example>/);
});

test('with smtpd_delay_reject = no the client list answers XCLIENT and the session is then refused', async (t) => {
  const gw = await startGateway(t, {
    smtpd_authorized_xclient_hosts: '127.0.0.1',
    smtpd_delay_reject: 'no',
    smtpd_client_restrictions: 'check_client_access inline:{ 192.0.2.9=REJECT }',
  });
  const c = await SmtpTestClient.connect(gw.port);
  t.after(() => c.destroy());
  assert.equal((await c.read()).code, 220);
  assert.equal(line(await c.cmd('XCLIENT ADDR=192.0.2.9')), '554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied');
  assert.equal(line(await c.cmd('EHLO x.example')), '503 5.7.0 Error: access denied for unknown[192.0.2.9]');
  assert.equal(line(await c.cmd('XCLIENT ADDR=192.0.2.1')), '503 5.7.0 Error: access denied for unknown[192.0.2.9]');
  assert.equal((await c.cmd('QUIT')).code, 221);
  await gw.waitLog(/NOQUEUE: reject: XCLIENT from unknown\[192\.0\.2\.9\]: 554 5\.7\.1 <unknown\[192\.0\.2\.9\]>: Client host rejected: Access denied; proto=SMTP/);
  assert.match(gw.log(), /connect from unknown\[127\.0\.0\.1\]/);
});

// ---- differential: the same sequences against Postfix ---------------------------------------

/** Sessions of commands; each reply of both servers is compared (hostnames masked). */
const SESSIONS: readonly (readonly string[])[] = [
  ['EHLO a.example', 'XCLIENT', 'XCLIENT foo', 'XCLIENT NAME=', 'XCLIENT FOO=bar', 'XCLIENT NAME=bad_name!', 'XCLIENT NAME=1.2.3.4',
    'XCLIENT NAME=foo+2e', 'XCLIENT ADDR=1.2.3', 'XCLIENT ADDR=::1', 'XCLIENT ADDR=IPv6:fe80::1%eth0', 'XCLIENT ADDR=08.1.1.1',
    'XCLIENT PROTO=FOO', 'XCLIENT PORT=123456', 'XCLIENT DESTADDR=x', 'XCLIENT DESTPORT=x', 'XCLIENT REVERSE_NAME=bad!',
    'xclient name=bad!', 'EHLO b.example', 'MAIL FROM:<a@b.c>', 'XCLIENT NAME=x.example', 'RSET',
    'XCLIENT LOGIN=bob+20smith NAME=client.example HELO=h+20x PROTO=esmtp', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>',
    'RSET', 'XCLIENT ADDR=10.0.0.1', 'EHLO c', 'XCLIENT ADDR=10.0.0.2', 'XCLIENT', 'QUIT'],
  ['XCLIENT ADDR=IPv6:::ffff:1.2.3.4', 'EHLO x', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT ADDR=IPv6:2001:DB8:0:0::1', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT ADDR=[unavailable]', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT ADDR=1.2.3.0255', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT LOGIN=alice', 'XCLIENT NAME=foo.example', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@example.test>', 'RSET',
    'XCLIENT LOGIN=[UNAVAILABLE]', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@example.test>', 'RSET',
    'XCLIENT HELO=a+20b@c:d%e{f}g,h$i<>+0D+0A(x)"; PROTO=SMTP ADDR=192.0.2.60', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT HELO=first.example PROTO=ESMTP', 'XCLIENT NAME=x.example', 'XCLIENT ADDR=192.0.2.70', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  ['XCLIENT NAME=a.example ADDR=127.0.0.5', 'XCLIENT ADDR=192.0.2.9 NAME=bad+ZZ', 'XCLIENT FOO=+ZZ', 'XCLIENT PORT=00001', 'EHLO a',
    'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'QUIT'],
  [`XCLIENT HELO=${'x'.repeat(256)}`, `XCLIENT NAME=${'a'.repeat(65)}.b`, 'XCLIENT NAME=-a.b', 'XCLIENT NAME=a..b', 'XCLIENT PORT=-1',
    'XCLIENT PROTO=[UNAVAILABLE]', 'XCLIENT NAME=1abc.example ADDR=192.0.2.53 PORT=25 REVERSE_NAME=[TEMPUNAVAIL] DESTADDR=IPv6:::1 DESTPORT=65536',
    'MAIL FROM:<a@b.test>', 'RCPT TO:<u@elsewhere.test>', 'DATA', 'QUIT'],
];

/** Sessions for the service with smtpd_delay_reject = no and client/HELO access maps. */
const STRICT_SESSIONS: readonly (readonly string[])[] = [
  ['EHLO a', 'XCLIENT ADDR=192.0.2.9', 'EHLO b', 'XCLIENT ADDR=192.0.2.1', 'QUIT'],
  ['XCLIENT ADDR=192.0.2.10 HELO=h.example', 'MAIL FROM:<a@b.test>', 'QUIT'],
  ['XCLIENT HELO=bad.helo', 'MAIL FROM:<a@b.test>', 'RCPT TO:<u@example.test>', 'QUIT'],
  ['XCLIENT NAME=a.example ADDR=127.0.0.5', 'XCLIENT ADDR=192.0.2.9 NAME=bad+ZZ', 'XCLIENT PORT=00001', 'XCLIENT NAME=a.example =x', 'EHLO a', 'QUIT'],
];

const COMMON: Record<string, string> = {
  myhostname: 'relay.compare.test',
  smtpd_banner: '$myhostname ESMTP',
  mydestination: '',
  relay_domains: 'example.test',
  mynetworks: '127.0.0.0/8',
  smtpd_authorized_xclient_hosts: '127.0.0.0/8',
  smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
  smtpd_error_sleep_time: '0',
  smtpd_peername_lookup: 'no',
  relay_transport: 'discard',
  default_transport: 'discard',
};
const STRICT: [string, string][] = [
  ['smtpd_delay_reject', 'no'],
  ['smtpd_client_restrictions', 'check_client_access inline:{ 192.0.2.9=REJECT, { 192.0.2.10 = 450 try later } }'],
  ['smtpd_helo_restrictions', 'check_helo_access inline:{ bad.helo=REJECT }'],
];
const strictService = (port: number) => `127.0.0.1:${port} inet n - n - - smtpd\n${STRICT.map(([k, v]) => `  -o { ${k} = ${v} }`).join('\n')}\n`;

/** Every reply of one session, raw lines joined, with the server's hostname masked. */
async function transcript(port: number, cmds: readonly string[], hostname: string): Promise<string[]> {
  const out: string[] = [];
  const c = await SmtpTestClient.connect(port);
  try {
    const rd = async (label: string) => {
      try { out.push(`${label} -> ${(await c.read(10000)).raw.trim().split(hostname).join('$myhostname')}`); return true; } catch { out.push(`${label} -> (closed)`); return false; }
    };
    if (!(await rd('CONNECT'))) return out;
    for (const cmd of cmds) {
      c.send(`${cmd}\r\n`);
      if (!(await rd(cmd.length > 60 ? cmd.slice(0, 60) + '…' : cmd))) break;
    }
  } finally { c.destroy(); }
  return out;
}

test('differential: XCLIENT sequences get the same replies from mxguard and Postfix 3.7', async (t) => {
  const strictPostfix = await freePort();
  const pf = await startPostfix(t, {
    relayhost: '[127.0.0.1]:9',
    // IPv6 client addresses need IPv6 in inet_protocols (Postfix checks them with getaddrinfo()).
    main: { ...COMMON, inet_protocols: 'all' },
    master: (text) => `${text}\n${strictService(strictPostfix)}`,
  });
  if (!pf) return;
  const strictMx = await freePort();
  const gw = await startGateway(t, COMMON, { master: (port) => `127.0.0.1:${port} inet n - n - - smtpd\n${strictService(strictMx)}` });
  const runs: [string, number, number, readonly (readonly string[])[]][] = [
    ['main service', pf.port, gw.port, SESSIONS], ['smtpd_delay_reject = no', strictPostfix, strictMx, STRICT_SESSIONS],
  ];
  let compared = 0;
  for (const [label, pport, mport, sessions] of runs) {
    for (const [i, cmds] of sessions.entries()) {
      const expected = await transcript(pport, cmds, 'relay.compare.test');
      const actual = await transcript(mport, cmds, 'relay.compare.test');
      assert.deepEqual(actual, expected, `${label}, session ${i + 1}`);
      compared += expected.length;
    }
  }
  t.diagnostic(`${compared} replies compared`);
  // Log lines that name the client come out the same too (queue ids and pids masked).
  const pick = (log: string) => log.split('\n')
    // (Postfix's start-up probe of the helper connects too: only sessions that sent XCLIENT count.)
    .filter((l) => /smtpd\[\d+\]: (NOQUEUE: reject|[0-9A-F]+: client=|disconnect from .* xclient=)/.test(l))
    .map((l) => l.replace(/^.*?smtpd\[\d+\]: /, '').replace(/^[0-9A-F]+: /, 'QUEUEID: '));
  const sessions = SESSIONS.length + STRICT_SESSIONS.length;
  const end = Date.now() + 20000;
  const done = (log: string) => pick(log).filter((l) => l.startsWith('disconnect')).length >= sessions;
  while (Date.now() < end && !(done(pf.log()) && done(gw.log()))) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pick(gw.log()), pick(pf.log()));
});
