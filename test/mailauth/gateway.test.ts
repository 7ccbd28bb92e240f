/**
 * SPF, DKIM and DMARC through a real gateway (`mxguard serve`) asking the loopback test DNS
 * server: the Authentication-Results: header (RFC 8601 syntax, authserv-id = $myhostname) on
 * top of the delivered Maildir message, also for BDAT and for a message too large to be held
 * in memory (spool-prepend.test.ts); an SPF fail rejected at MAIL FROM when configured; and DNS trouble (SERVFAIL,
 * garbage, slow, server down): the mail is accepted with temperror, never a 5xx, never a crash.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type TestDns } from '../helpers/dns-server.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { connectClient, gwMaildir, queuedId, sendMessage, token, waitForMail } from '../integration/util.js';
import { keyRecord, message, signed, txt } from './fixtures.js';
import type { TestContext } from 'node:test';

let dns: TestDns;
let gw: Gateway;
const cleanups: (() => unknown)[] = [];
const cleanup = { after: (f: () => unknown) => cleanups.push(f) };

const DNS_SETTINGS = {
  // The test gateways have mail authentication off unless a test turns it on.
  mxguard_mailauth_enable: 'yes',
  mxguard_dns_timeout: '1s', mxguard_dns_attempt_timeout: '0.4s', mxguard_dns_temporary_cache_ttl: '0',
  mxguard_spf_fail_action: 'reject', mxguard_dmarc_fail_action: 'policy',
};

before(async () => {
  dns = await startDnsServer(cleanup, {
    records: [
      txt('signed-g.test', 'v=spf1 ip4:127.0.0.9 -all'),
      keyRecord('signed-g.test'),
      txt('_dmarc.signed-g.test', 'v=DMARC1; p=reject'),
      txt('fail-g.test', 'v=spf1 ip4:127.0.0.200 -all'),
      txt('servfail-g.test', 'v=spf1 -all'),
      txt('_dmarc.servfail-g.test', 'v=DMARC1; p=reject'),
      txt('garbage-g.test', 'v=spf1 -all'),
      txt('slow-g.test', 'v=spf1 -all'),
    ],
  });
  dns.setBehaviour('servfail-g.test', 'servfail');
  dns.setBehaviour('garbage-g.test', 'garbage');
  dns.setBehaviour('slow-g.test', { delayMs: 3000 });
  gw = await startGateway(cleanup, { mxguard_dns_servers: dns.server, ...DNS_SETTINGS });
});
after(async () => { for (const f of cleanups.reverse()) await f(); });

/** The header section of a stored message, unfolded, one field per entry. */
function headerFields(text: string): string[] {
  const head = text.split(/\r?\n\r?\n/)[0]!;
  return head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
}

/**
 * RFC 8601 §2.2 in brief: authserv-id, then `; method=result [(comment)] *(ptype.property=value)`
 * per resinfo (comments may hold escaped parentheses).
 */
const RESINFO = /^(spf|dkim|dmarc)=(pass|fail|softfail|neutral|none|temperror|permerror|policy)( \((?:[^()\\]|\\.)*\))?( (smtp|header|body|policy)\.[a-z-]+=("(?:[^"\\]|\\.)*"|[^\s;"]+))*$/;

function assertAuthResults(field: string, want: Record<string, string>): void {
  const m = /^Authentication-Results: mx\.example\.test;\s*(.*)$/.exec(field);
  assert.ok(m, `authserv-id is $myhostname: ${field}`);
  const parts = m[1]!.split(/;\s*(?=(?:spf|dkim|dmarc)=)/);
  for (const p of parts) assert.match(p.trim(), RESINFO, `RFC 8601 resinfo: ${p}`);
  for (const [method, result] of Object.entries(want)) {
    assert.ok(parts.some((p) => p.trim().startsWith(`${method}=${result}`)), `${method}=${result} in ${field}`);
  }
}

async function deliver(t: TestContext, sender: string, text: string, tok: string): Promise<string> {
  const { c } = await connectClient(t, gw.port, { localAddress: '127.0.0.9' });
  assert.equal((await c.cmd('EHLO client.remote.test')).code, 250);
  try { queuedId(await sendMessage(c, sender, ['alice@example.test'], text)); } catch (e) { throw new Error(`${(e as Error).message}\n${gw.log().slice(-3000)}\n${gw.stderr()}`); }
  await c.cmd('QUIT');
  return waitForMail(gwMaildir(gw, 'alice'), tok);
}

test('a signed message from an SPF-authorised client: spf, dkim and dmarc pass, in a header on top', async (t) => {
  const tok = token('ar');
  const text = await signed(message({ from: 'a@signed-g.test', subject: tok }), 'signed-g.test');
  const stored = await deliver(t, 'a@signed-g.test', text, tok);
  const fields = headerFields(stored);
  const ar = fields.findIndex((f) => f.startsWith('Authentication-Results:'));
  const rcvd = fields.findIndex((f) => f.startsWith('Received:'));
  assert.ok(ar >= 0 && ar < rcvd, `Authentication-Results: above our Received:\n${fields.join('\n')}`);
  assert.ok(fields.slice(0, ar).every((f) => /^(Return-Path|Delivered-To):/i.test(f)), 'nothing but the delivery agent\'s fields above it');
  assertAuthResults(fields[ar]!, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
  assert.match(fields[ar]!, /smtp\.mailfrom=a@signed-g\.test/);
  assert.match(fields[ar]!, /header\.d=signed-g\.test/);
  assert.match(stored, /Hello\./);
  await gw.waitLog(/: authentication: spf=pass .*dkim=pass dmarc=pass/);
});

test('BDAT and a 100 KB message get the header too, body intact', async (t) => {
  // XXX: a message over the spool's 256 KB memory limit gets no reply from the gateway at all,
  // with or without mailauth (found here; not in this room). The prepend into a queue file
  // is covered by spool-prepend.test.ts until then.
  const tok = token('big');
  const body = `${'x'.repeat(998)}\r\n`.repeat(100);
  const text = message({ from: 'a@signed-g.test', subject: tok, body });
  const stored = await deliver(t, 'a@signed-g.test', text, tok);
  assertAuthResults(headerFields(stored).find((f) => f.startsWith('Authentication-Results:'))!, { spf: 'pass', dkim: 'none' });
  assert.ok(stored.replace(/\r\n/g, '\n').includes(body.replace(/\r\n/g, '\n')), 'the body arrived whole');

  const tok2 = token('bdat');
  const { c } = await connectClient(t, gw.port, { localAddress: '127.0.0.9' });
  await c.cmd('EHLO client.remote.test');
  assert.equal((await c.cmd('MAIL FROM:<a@signed-g.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  const chunk = await signed(message({ from: 'a@signed-g.test', subject: tok2 }), 'signed-g.test');
  c.send(`BDAT ${Buffer.byteLength(chunk)} LAST\r\n${chunk}`);
  assert.equal((await c.read(10_000)).code, 250);
  const s2 = await waitForMail(gwMaildir(gw, 'alice'), tok2);
  assertAuthResults(headerFields(s2).find((f) => f.startsWith('Authentication-Results:'))!, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
});

test('SPF fail is refused at MAIL FROM with 550 5.7.23 when configured; the session goes on', async (t) => {
  const { c } = await connectClient(t, gw.port, { localAddress: '127.0.0.9' });
  await c.cmd('EHLO client.remote.test');
  const r = await c.cmd('MAIL FROM:<a@fail-g.test>');
  assert.equal(r.code, 550);
  assert.equal(r.status, '5.7.23');
  assert.match(r.text.join(' '), /<a@fail-g\.test>: Sender address rejected: SPF fail - not authorized/);
  await gw.waitLog(/NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.9\]: 550 5\.7\.23 <a@fail-g\.test>: Sender address rejected: SPF fail/);
  assert.equal((await c.cmd('MAIL FROM:<a@signed-g.test>')).code, 250);
  // mynetworks (127.0.0.1) is annotated, not refused.
  const { c: local } = await connectClient(t, gw.port);
  await local.cmd('EHLO localhost');
  assert.equal((await local.cmd('MAIL FROM:<a@fail-g.test>')).code, 250);
});

test('DNS SERVFAIL, garbage and a slow server: accepted with spf=temperror, no 5xx', async (t) => {
  for (const d of ['servfail-g.test', 'garbage-g.test', 'slow-g.test']) {
    const tok = token('tmp');
    const stored = await deliver(t, `a@${d}`, message({ from: `a@${d}`, subject: tok }), tok);
    const ar = headerFields(stored).find((f) => f.startsWith('Authentication-Results:'))!;
    assertAuthResults(ar, { spf: 'temperror' });
    assert.doesNotMatch(ar, /dmarc=fail/, `${d}: a DNS failure is no DMARC fail`);
  }
});

test('DNS server down: mail is accepted with temperror and the gateway stays up', async (t) => {
  const down = await startGateway(t, { mxguard_dns_servers: `127.0.0.1:${await freePort()}`, ...DNS_SETTINGS, mxguard_dkim_fail_action: 'reject' });
  const tok = token('down');
  const { c } = await connectClient(t, down.port, { localAddress: '127.0.0.9' });
  await c.cmd('EHLO client.remote.test');
  const text = await signed(message({ from: 'a@signed-g.test', subject: tok }), 'signed-g.test');
  const r = await sendMessage(c, 'a@fail-g.test', ['alice@example.test'], text);
  assert.equal(r.code, 250, r.raw);
  const stored = await waitForMail(gwMaildir(down, 'alice'), tok);
  assertAuthResults(headerFields(stored).find((f) => f.startsWith('Authentication-Results:'))!, { spf: 'temperror', dkim: 'temperror', dmarc: 'temperror' });
  const again = await connectClient(t, down.port, { localAddress: '127.0.0.9' });
  assert.equal(again.greeting.code, 220, 'still serving');
  assert.equal(down.proc.exitCode, null);
});
