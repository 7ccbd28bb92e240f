/**
 * SPF at MAIL FROM through mxguard's resolver and the loopback test DNS server: every RFC 7208
 * result for the MAIL FROM and HELO identities, the policy parameters, trusted clients, and the
 * declared failure behaviour (SERVFAIL, REFUSED, garbage, slow, server down: temperror, never a
 * 5xx).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type TestDns } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { startInboundAuth, type InboundAuth } from '../../src/mailauth/index.js';
import { authConfig, txt } from './fixtures.js';
import type { Config } from '../../src/config/config.js';

let dns: TestDns;
const cleanups: (() => unknown)[] = [];
before(async () => {
  dns = await startDnsServer({ after: (f) => cleanups.push(f) }, {
    records: [
      txt('pass.auth.test', 'v=spf1 ip4:127.0.0.9 -all'),
      txt('fail.auth.test', 'v=spf1 ip4:127.0.0.200 -all'),
      txt('softfail.auth.test', 'v=spf1 ~all'),
      txt('neutral.auth.test', 'v=spf1 ?all'),
      { name: 'none.auth.test', type: 'A', data: '127.0.0.9' },
      txt('permerror.auth.test', 'v=spf1 frobnicate:x -all'),
      txt('incl.auth.test', 'v=spf1 include:_spf.broken.auth.test -all'),
      txt('redir.auth.test', 'v=spf1 redirect=_spf.broken.auth.test'),
      txt('_spf.broken.auth.test', 'v=spf1 ip4:127.0.0.9 -all'),
      txt('a-mech.auth.test', 'v=spf1 a:host.slowzone.auth.test -all'),
      { name: 'host.slowzone.auth.test', type: 'A', data: '127.0.0.9' },
      txt('helo-fail.auth.test', 'v=spf1 -all'),
      txt('helo-pass.auth.test', 'v=spf1 ip4:127.0.0.0/8 -all'),
      txt('servfail.auth.test', 'v=spf1 +all'),
      txt('refused.auth.test', 'v=spf1 +all'),
      txt('garbage.auth.test', 'v=spf1 +all'),
      txt('slow.auth.test', 'v=spf1 +all'),
      txt('timeout.auth.test', 'v=spf1 +all'),
    ],
  });
  dns.setBehaviour('servfail.auth.test', 'servfail');
  dns.setBehaviour('refused.auth.test', 'refused');
  dns.setBehaviour('garbage.auth.test', 'garbage');
  dns.setBehaviour('slow.auth.test', { delayMs: 3000 });
  dns.setBehaviour('timeout.auth.test', 'timeout');
  dns.setBehaviour('broken.auth.test', 'servfail');
  dns.setBehaviour('slowzone.auth.test', { delayMs: 3000 });
});
after(async () => { for (const f of cleanups.reverse()) await f(); });

const OUTSIDER = { address: '127.0.0.9', name: 'unknown', authenticated: false };

async function atMail(cfg: Config, sender: string, helo = 'client.remote.test', client = OUTSIDER): Promise<InboundAuth> {
  const a = await startInboundAuth(cfg, { client, helo, sender });
  assert.ok(a, 'evaluated');
  return a;
}

test('MAIL FROM: pass, fail, softfail, neutral, none, permerror', async () => {
  const cfg = authConfig(dns.server);
  const cases: [string, string][] = [
    ['pass', 'a@pass.auth.test'], ['fail', 'a@fail.auth.test'], ['softfail', 'a@softfail.auth.test'],
    ['neutral', 'a@neutral.auth.test'], ['none', 'a@none.auth.test'], ['none', 'a@nxdomain.auth.test'],
    ['permerror', 'a@permerror.auth.test'],
  ];
  for (const [want, sender] of cases) {
    const a = await atMail(cfg, sender);
    assert.equal(a.spf.result, want, `${sender}: ${a.spf.resinfo}`);
    assert.match(a.spf.resinfo, new RegExp(`^spf=${want} .*smtp\\.mailfrom=${sender.replace(/\./g, '\\.')}`));
    assert.equal(a.reply, undefined, 'the defaults only annotate');
  }
});

test('HELO identity: checked beside MAIL FROM, and for the null sender it is the MAIL FROM identity', async () => {
  const cfg = authConfig(dns.server);
  const a = await atMail(cfg, 'a@pass.auth.test', 'helo-fail.auth.test');
  assert.equal(a.spf.result, 'pass');
  assert.equal(a.helo?.result, 'fail');
  assert.match(a.helo!.resinfo, /^spf=fail .*smtp\.helo=helo-fail\.auth\.test$/);
  const n = await atMail(cfg, '', 'helo-pass.auth.test');
  assert.equal(n.spf.result, 'pass');
  assert.equal(n.helo, undefined, 'checked once');
  assert.match(n.spf.resinfo, /smtp\.mailfrom=postmaster@helo-pass\.auth\.test/);
  const lit = await atMail(cfg, '', '[127.0.0.9]');
  assert.equal(lit.spf.result, 'none', 'an address literal HELO with the null sender has nothing to check');
});

test('policy: fail rejects with 550 5.7.23 only when configured; HELO fail; softfail and permerror', async () => {
  const on = authConfig(dns.server, { mxguard_spf_fail_action: 'reject' });
  const r = await atMail(on, 'a@fail.auth.test');
  assert.equal(r.reply?.code, 550);
  assert.equal(r.reply?.status, '7.23');
  assert.match(r.reply!.text.join(' '), /^<a@fail\.auth\.test>: Sender address rejected: SPF fail - not authorized: /);
  assert.equal((await atMail(on, 'a@softfail.auth.test')).reply, undefined, 'softfail still annotates');

  const helo = authConfig(dns.server, { mxguard_spf_helo_fail_action: 'reject' });
  const h = await atMail(helo, 'a@pass.auth.test', 'helo-fail.auth.test');
  assert.equal(h.reply?.code, 550);
  assert.match(h.reply!.text[0]!, /^<helo-fail\.auth\.test>: Helo command rejected: SPF fail/);

  const soft = authConfig(dns.server, { mxguard_spf_softfail_action: 'defer', mxguard_spf_permerror_action: 'reject' });
  assert.equal((await atMail(soft, 'a@softfail.auth.test')).reply?.code, 450);
  const pe = await atMail(soft, 'a@permerror.auth.test');
  assert.equal(pe.reply?.code, 550);
  assert.equal(pe.reply?.status, '7.24');

  const bounce = authConfig(dns.server, { mxguard_spf_fail_action: 'reject', soft_bounce: 'yes' });
  assert.equal((await atMail(bounce, 'a@fail.auth.test')).reply?.code, 450, 'soft_bounce softens');
});

test('trusted clients: annotated but never refused by default; enforce and skip', async () => {
  const cfg = authConfig(dns.server, { mxguard_spf_fail_action: 'reject' });
  const local = { address: '127.0.0.1', name: 'localhost', authenticated: false };
  const a = await atMail(cfg, 'a@fail.auth.test', 'client.test', local);
  assert.equal(a.spf.result, 'fail');
  assert.equal(a.reply, undefined, 'mynetworks');
  const s = await atMail(cfg, 'a@fail.auth.test', 'client.test', { ...OUTSIDER, authenticated: true });
  assert.equal(s.reply, undefined, 'SASL-authenticated');
  const enforce = authConfig(dns.server, { mxguard_spf_fail_action: 'reject', mxguard_mailauth_trusted_clients: 'enforce' });
  assert.equal((await atMail(enforce, 'a@fail.auth.test', 'client.test', local)).reply?.code, 550);
  const skip = authConfig(dns.server, { mxguard_mailauth_trusted_clients: 'skip' });
  assert.equal(await startInboundAuth(skip, { client: local, helo: 'client.test', sender: 'a@fail.auth.test' }), undefined);
  assert.equal(await startInboundAuth(authConfig(dns.server, { mxguard_mailauth_enable: 'no' }), { client: OUTSIDER, sender: 'a@fail.auth.test' }), undefined);
});

test('DNS failures are temperror, never fail: SERVFAIL, REFUSED, garbage, no answer, slow, inside include: and redirect=', async () => {
  const cfg = authConfig(dns.server, { mxguard_spf_fail_action: 'reject', mxguard_spf_permerror_action: 'reject', mxguard_spf_softfail_action: 'reject' });
  for (const d of ['servfail', 'refused', 'garbage', 'timeout', 'slow', 'incl', 'redir', 'a-mech']) {
    const started = Date.now();
    const a = await atMail(cfg, `a@${d}.auth.test`);
    assert.equal(a.spf.result, 'temperror', `${d}: ${a.spf.resinfo}`);
    assert.equal(a.reply, undefined, `${d}: temperror annotates by default`);
    assert.ok(Date.now() - started < 6000, `${d}: bounded by the resolver's timeout`);
  }
  const defer = authConfig(dns.server, { mxguard_spf_temperror_action: 'defer' });
  const d = await atMail(defer, 'a@servfail.auth.test');
  assert.equal(d.reply?.code, 451);
  assert.equal(d.reply?.status, '7.24');
});

test('DNS server down: temperror; mxguard_mailauth_timeout bounds a slow evaluation', async () => {
  const port = await freePort();
  const down = authConfig(`127.0.0.1:${port}`, { mxguard_spf_fail_action: 'reject' });
  const a = await atMail(down, 'a@fail.auth.test');
  assert.equal(a.spf.result, 'temperror', a.spf.resinfo);
  assert.equal(a.reply, undefined);
  const slow = authConfig(dns.server, { mxguard_dns_timeout: '10s', mxguard_dns_attempt_timeout: '8s', mxguard_mailauth_timeout: '1s' });
  const started = Date.now();
  const s = await atMail(slow, 'a@slow.auth.test');
  assert.equal(s.spf.result, 'temperror');
  assert.match(s.spf.resinfo, /longer than 1s/);
  assert.ok(Date.now() - started < 2500);
});
