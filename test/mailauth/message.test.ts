/**
 * DKIM and DMARC of a message, fed in chunks as the session feeds them, against the loopback
 * test DNS server: DKIM pass / fail (altered body) / none, DMARC pass and fail under p=reject,
 * quarantine and none, relaxed and strict alignment, SPF alignment, and DNS failures (a key or
 * a DMARC record behind SERVFAIL, a slow server): temperror, never a 5xx.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type TestDns } from '../helpers/dns-server.js';
import { startInboundAuth, type MessageResults, type Verdict } from '../../src/mailauth/index.js';
import { authConfig, keyRecord, message, signed, txt } from './fixtures.js';
import type { Config } from '../../src/config/config.js';

let dns: TestDns;
const cleanups: (() => unknown)[] = [];
before(async () => {
  dns = await startDnsServer({ after: (f) => cleanups.push(f) }, {
    records: [
      keyRecord('signed-d.test'),
      txt('_dmarc.signed-d.test', 'v=DMARC1; p=reject'),
      keyRecord('other-d.test'),
      txt('_dmarc.victim-reject-d.test', 'v=DMARC1; p=reject'),
      txt('_dmarc.victim-quarantine-d.test', 'v=DMARC1; p=quarantine'),
      txt('_dmarc.victim-none-d.test', 'v=DMARC1; p=none'),
      txt('_dmarc.strict-d.test', 'v=DMARC1; p=reject; adkim=s'),
      keyRecord('strict-d.test'),
      txt('spfonly-d.test', 'v=spf1 ip4:127.0.0.9 -all'),
      txt('_dmarc.spfonly-d.test', 'v=DMARC1; p=reject'),
      keyRecord('keyfail-d.test'),
      txt('_dmarc.keyfail-d.test', 'v=DMARC1; p=reject'),
      txt('_dmarc.dmarcfail-d.test', 'v=DMARC1; p=reject'),
      txt('_dmarc.slowdmarc-d.test', 'v=DMARC1; p=reject'),
    ],
  });
  dns.setBehaviour('_domainkey.keyfail-d.test', 'servfail');
  dns.setBehaviour('_dmarc.dmarcfail-d.test', 'servfail');
  dns.setBehaviour('_dmarc.slowdmarc-d.test', { delayMs: 3000 });
});
after(async () => { for (const f of cleanups.reverse()) await f(); });

const OUTSIDER = { address: '127.0.0.9', name: 'unknown', authenticated: false };

/** Runs one transaction's checks: MAIL FROM `sender`, then `text` in small chunks. */
async function check(cfg: Config, sender: string, text: string): Promise<{ results: MessageResults; verdict: Verdict; header: string }> {
  const a = await startInboundAuth(cfg, { client: OUTSIDER, helo: 'client.remote.test', sender });
  assert.ok(a);
  const buf = Buffer.from(text, 'latin1');
  for (let i = 0; i < buf.length; i += 37) await a.push(buf.subarray(i, i + 37));
  const r = await a.finish();
  return { results: r.results, verdict: r.verdict, header: r.header };
}

test('DKIM: pass with the published key; fail when the body was altered; none when unsigned', async () => {
  const cfg = authConfig(dns.server);
  const ok = await signed(message({ from: 'a@signed-d.test' }), 'signed-d.test');
  const p = await check(cfg, 'a@signed-d.test', ok);
  assert.equal(p.results.dkim, 'pass');
  assert.match(p.header, /dkim=pass .*header\.d=signed-d\.test/s);
  assert.equal(p.results.dmarc.result, 'pass', 'aligned DKIM is a DMARC pass');

  // A changed body: mailauth (like Gmail) reports neutral "body hash did not verify" (RFC 6376 §6.1.3).
  const body = await check(cfg, 'a@signed-d.test', ok.replace('Hello.', 'Hello, changed.'));
  assert.equal(body.results.dkim, 'neutral');
  assert.match(body.header, /dkim=neutral \(body hash did not verify\)/);
  assert.equal(body.results.dmarc.result, 'fail');
  // A changed signed header: the signature itself fails.
  const f = await check(cfg, 'a@signed-d.test', ok.replace('Subject: test', 'Subject: changed'));
  assert.equal(f.results.dkim, 'fail');
  assert.equal(f.results.dmarc.result, 'fail');
  assert.equal(f.verdict.action, 'annotate', 'the defaults only annotate');
  assert.equal((await check(authConfig(dns.server, { mxguard_dkim_fail_action: 'reject' }), 'a@signed-d.test', ok.replace('Subject: test', 'Subject: changed'))).verdict.reply?.status, '7.20');

  const n = await check(cfg, 'a@nowhere-d.test', message({ from: 'a@nowhere-d.test' }));
  assert.equal(n.results.dkim, 'none');
  assert.equal(n.results.dmarc.result, 'none');
});

test('DMARC: an unaligned signature fails; the action follows p= with mxguard_dmarc_fail_action = policy', async () => {
  const cfg = authConfig(dns.server, { mxguard_dmarc_fail_action: 'policy' });
  const forged = (victim: string) => signed(message({ from: `ceo@${victim}` }), 'other-d.test');
  const rej = await check(cfg, 'bounce@other-d.test', await forged('victim-reject-d.test'));
  assert.equal(rej.results.dkim, 'pass');
  assert.equal(rej.results.dmarc.result, 'fail');
  assert.equal(rej.verdict.reply?.code, 550);
  assert.equal(rej.verdict.reply?.status, '7.1');
  assert.match(rej.verdict.reply!.text[0]!, /DMARC policy of victim-reject-d\.test/);
  const q = await check(cfg, 'bounce@other-d.test', await forged('victim-quarantine-d.test'));
  assert.equal(q.results.dmarc.result, 'fail');
  assert.equal(q.verdict.action, 'hold');
  const n = await check(cfg, 'bounce@other-d.test', await forged('victim-none-d.test'));
  assert.equal(n.results.dmarc.result, 'fail');
  assert.equal(n.verdict.action, 'annotate');
  // By default nothing is refused.
  const d = await check(authConfig(dns.server), 'bounce@other-d.test', await forged('victim-reject-d.test'));
  assert.equal(d.verdict.action, 'annotate');
  assert.match(d.header, /dmarc=fail .*header\.from=victim-reject-d\.test/s);
});

test('DMARC alignment: relaxed accepts a subdomain From:, adkim=s does not; SPF alone can align', async () => {
  const cfg = authConfig(dns.server, { mxguard_dmarc_fail_action: 'reject' });
  const relaxed = await check(cfg, '', await signed(message({ from: 'news@mail.signed-d.test' }), 'signed-d.test'));
  assert.equal(relaxed.results.dmarc.result, 'pass', 'relaxed: same organizational domain');
  const strict = await check(cfg, '', await signed(message({ from: 'news@mail.strict-d.test' }), 'strict-d.test'));
  assert.equal(strict.results.dmarc.result, 'fail', 'adkim=s: exact domain only');
  assert.equal(strict.verdict.reply?.code, 550);
  const spf = await check(cfg, 'a@spfonly-d.test', message({ from: 'a@spfonly-d.test' }));
  assert.equal(spf.results.dkim, 'none');
  assert.equal(spf.results.dmarc.result, 'pass', 'SPF pass of the same domain aligns');
});

test('DNS failures: a key behind SERVFAIL is dkim=temperror, and the DMARC fail it causes is temperror, never a 5xx', async () => {
  const cfg = authConfig(dns.server, { mxguard_dmarc_fail_action: 'reject', mxguard_dkim_fail_action: 'reject' });
  const k = await check(cfg, 'x@keyfail-d.test', await signed(message({ from: 'a@keyfail-d.test' }), 'keyfail-d.test'));
  assert.equal(k.results.dkim, 'temperror');
  assert.equal(k.results.dmarc.result, 'temperror');
  assert.equal(k.verdict.reply, undefined, 'temperror annotates by default');
  assert.match(k.header, /dmarc=temperror/);

  const df = await check(cfg, 'x@dmarcfail-d.test', message({ from: 'a@dmarcfail-d.test' }));
  assert.equal(df.results.dmarc.result, 'temperror');
  assert.equal(df.verdict.reply, undefined);

  const defer = authConfig(dns.server, { mxguard_dmarc_temperror_action: 'defer', mxguard_dkim_temperror_action: 'defer', mxguard_dmarc_fail_action: 'reject' });
  const dd = await check(defer, 'x@keyfail-d.test', await signed(message({ from: 'a@keyfail-d.test' }), 'keyfail-d.test'));
  assert.equal(dd.verdict.reply?.code, 451);

  const slow = authConfig(dns.server, { mxguard_dns_timeout: '10s', mxguard_dns_attempt_timeout: '8s', mxguard_mailauth_timeout: '1s', mxguard_dmarc_fail_action: 'reject' });
  const started = Date.now();
  const s = await check(slow, 'x@slowdmarc-d.test', message({ from: 'a@slowdmarc-d.test' }));
  assert.equal(s.results.dmarc.result, 'temperror');
  assert.ok(s.verdict.reply === undefined || s.verdict.reply.code < 500);
  assert.ok(Date.now() - started < 2500, 'bounded by mxguard_mailauth_timeout');
});

test('garbage input never throws: no header section, binary bytes, many From: lines', async () => {
  const cfg = authConfig(dns.server);
  for (const text of ['', 'no header at all', '\x00\xff\xfe\r\n\r\n', 'From: a@x.test\r\nFrom: b@y.test\r\n\r\nbody\r\n', 'DKIM-Signature: v=1; garbage\r\nFrom: a@x.test\r\n\r\nb\r\n']) {
    const r = await check(cfg, 'a@x.test', text);
    assert.match(r.header, /^Authentication-Results: mx\.example\.test;/);
  }
});
