/**
 * Gateway-level DNS lists: a real `mxguard serve` with mxguard_dns_servers = the test DNS server,
 * clients from several 127.x addresses. postscreen's score before the greeting (enforce, drop,
 * allowlist), smtpd's reject_rbl_client after it, a refusing list that rejects nothing, a dead
 * list that costs nothing while degraded (query counts on the test server), and `mxguard lists`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startDnsServer, type TestDns, type ZoneRecord } from '../helpers/dns-server.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { runCli } from '../helpers/run-cli.js';

const A = (name: string, data: string): ZoneRecord => ({ name, type: 'A', data });
const RECORDS: ZoneRecord[] = [
  A('10.0.0.127.bl1.test', '127.0.0.2'),
  A('11.0.0.127.bl2.test', '127.0.0.2'),
  A('12.0.0.127.bl1.test', '127.0.0.2'), A('12.0.0.127.wl.test', '127.0.2.2'),
  A('11.0.0.127.rbl.test', '127.0.0.2'), { name: '11.0.0.127.rbl.test', type: 'TXT', data: 'https://rbl.test/11' },
  A('2.0.0.127.rbl.test', '127.0.0.2'), A('2.0.0.127.bl1.test', '127.0.0.2'), A('2.0.0.127.bl2.test', '127.0.0.2'), A('2.0.0.127.wl.test', '127.0.0.2'),
  // zen.spamhaus.org as seen through a public resolver: 127.255.255.254 for every query.
  ...['13', '14', '15', '2', '1'].map((o) => A(`${o}.0.0.127.zen.spamhaus.org`, '127.255.255.254')),
];

const sites = 'bl1.test*2, bl2.test*1, wl.test*-5, dead.test*1';

async function gateway(t: { after(fn: () => unknown): void }, dns: TestDns, extra: Record<string, string>): Promise<Gateway> {
  return startGateway(t, {
    mxguard_dns_servers: dns.server, mxguard_dns_timeout: '1s', mxguard_dns_attempt_timeout: '0.5s', mxguard_dns_temporary_cache_ttl: '0',
    postscreen_dnsbl_sites: sites, postscreen_dnsbl_threshold: '2', postscreen_dnsbl_allowlist_threshold: '-1',
    postscreen_dnsbl_timeout: '1s', postscreen_greet_wait: '2s',
    smtpd_client_restrictions: 'reject_rbl_client rbl.test, reject_rbl_client zen.spamhaus.org',
    mxguard_dnsbl_health_interval: '1s',
    ...extra,
  });
}

async function connect(gw: Gateway, from: string): Promise<SmtpTestClient> {
  return SmtpTestClient.connect(gw.port, { localAddress: from });
}

test('postscreen enforce, allowlist and smtpd lists through one gateway; mxguard lists shows the states', async (t) => {
  const dns = await startDnsServer(t, { records: RECORDS });
  dns.setBehaviour('dead.test', 'timeout');
  const gw = await gateway(t, dns, { postscreen_dnsbl_action: 'enforce', postscreen_dnsbl_reply_map: 'inline:{ bl1.test=private-list }' });

  // 127.0.0.10: bl1.test*2 reaches the threshold: the stand-in engine answers RCPT TO with 550.
  const c = await connect(gw, '127.0.0.10');
  t.after(() => c.destroy());
  assert.equal((await c.read(8000)).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.deepEqual(await c.cmd('MAIL FROM:<a@remote.test>'), { code: 250, status: '2.1.0', text: ['Ok'], raw: '250 2.1.0 Ok\r\n' });
  const r = await c.cmd('RCPT TO:<bob@example.test>');
  assert.equal(r.raw, '550 5.7.1 Service unavailable; client [127.0.0.10] blocked using private-list\r\n');
  assert.equal((await c.cmd('DATA')).raw, '554 5.5.1 Error: no valid recipients\r\n');
  assert.equal((await c.cmd('QUIT')).raw, '221 2.0.0 Bye\r\n');
  const port = c.socket.localPort;
  await gw.waitLog(new RegExp(`postscreen\\[\\d+\\]: DNSBL rank 2 for \\[127\\.0\\.0\\.10\\]:${port}\\n`));
  await gw.waitLog(new RegExp(`postscreen\\[\\d+\\]: NOQUEUE: reject: RCPT from \\[127\\.0\\.0\\.10\\]:${port}: 550 5\\.7\\.1 Service unavailable; client \\[127\\.0\\.0\\.10\\] blocked using private-list; from=<a@remote\\.test>, to=<bob@example\\.test>, proto=ESMTP, helo=<client\\.test>\\n`));

  // 127.0.0.11: bl2.test*1 is below the threshold; smtpd's reject_rbl_client rbl.test rejects at RCPT.
  const c2 = await connect(gw, '127.0.0.11');
  t.after(() => c2.destroy());
  assert.equal((await c2.read(8000)).code, 220);
  await c2.cmd('EHLO client.test');
  await c2.cmd('MAIL FROM:<a@remote.test>');
  assert.equal((await c2.cmd('RCPT TO:<bob@example.test>')).raw, '554 5.7.1 Service unavailable; Client host [127.0.0.11] blocked using rbl.test; https://rbl.test/11\r\n');
  await c2.cmd('QUIT');

  // 127.0.0.12: bl1.test*2 + wl.test*-5 = -3: allowlisted, mail accepted.
  // 127.0.0.13-15: zen.spamhaus.org answers 127.255.255.254: no rejection, and sessions do not ask it again.
  for (const from of ['127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15']) {
    const c3 = await connect(gw, from);
    t.after(() => c3.destroy());
    assert.equal((await c3.read(8000)).code, 220, from);
    await c3.cmd('EHLO client.test');
    await c3.cmd('MAIL FROM:<a@remote.test>');
    assert.equal((await c3.cmd('RCPT TO:<bob@example.test>')).code, 250, from);
    await c3.cmd('QUIT');
  }
  const zenAsked = dns.queries().filter((q) => q.name.endsWith('zen.spamhaus.org') && /^1[345]\./.test(q.name));
  assert.deepEqual(zenAsked, [], 'a refusing list is not asked during its back-off');
  // dead.test never answers. The first session may have asked it (one lookup, bounded by
  // postscreen_dnsbl_timeout) while the start-up check was still waiting; once degraded, no session asks it.
  const deadAsked = dns.queries().filter((q) => q.name.endsWith('dead.test') && !/^[12]\.0\.0\.127\./.test(q.name));
  assert.deepEqual([...new Set(deadAsked.map((q) => q.name))].filter((n) => n !== '10.0.0.127.dead.test'), [], 'later sessions do not ask a degraded list');
  assert.ok(deadAsked.length <= 2, `one lookup at most (the resolver's two attempts): ${deadAsked.length}`);

  // mxguard lists reads the running server's state file.
  let doc: { lists: { list: string; state: string; reason: string; hitRate?: number }[] } | undefined;
  for (let i = 0; i < 40; i++) {
    const out = await runCli(['lists', '--config', gw.dir, '--json']);
    doc = JSON.parse(out.stdout) as typeof doc;
    if (doc!.lists.find((l) => l.list === 'zen.spamhaus.org')?.state === 'refusing' && doc!.lists.find((l) => l.list === 'dead.test')?.state === 'degraded') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const by = new Map(doc!.lists.map((l) => [l.list, l]));
  assert.equal(by.get('zen.spamhaus.org')?.state, 'refusing');
  assert.match(by.get('zen.spamhaus.org')!.reason, /127\.255\.255\.254: Spamhaus: query via a public\/open resolver/);
  assert.equal(by.get('dead.test')?.state, 'degraded');
  assert.equal(by.get('rbl.test')?.state, 'healthy');
  assert.equal(by.get('bl1.test')?.state, 'healthy');
  const text = await runCli(['lists', '--config', gw.dir]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^LIST\s+STATE\s+HIT RATE\s+LAST ANSWER\s+NOTE$/m);
  assert.match(text.stdout, /^zen\.spamhaus\.org\s+refusing\s/m);
  assert.match(text.stdout, /^dead\.test\s+degraded\s/m);
  // --check asks the test points now, from the CLI.
  const checked = JSON.parse((await runCli(['lists', '--config', gw.dir, '--check', '--json'])).stdout) as NonNullable<typeof doc>;
  const st = Object.fromEntries(checked.lists.map((l) => [l.list, l.state]));
  assert.deepEqual(st, { 'rbl.test': 'healthy', 'zen.spamhaus.org': 'refusing', 'bl1.test': 'healthy', 'bl2.test': 'healthy', 'wl.test': 'healthy', 'dead.test': 'degraded' });
  await gw.waitLog(/dnsblog\[\d+\]: warning: dnsbl zen\.spamhaus\.org: refusing: /);
  await gw.waitLog(/dnsblog\[\d+\]: warning: dnsbl dead\.test: degraded: test point 2\.0\.0\.127\.dead\.test: timeout/);
});

test('postscreen drop: 521 5.7.1 and disconnect before any command; ignore logs the rank only', async (t) => {
  const dns = await startDnsServer(t, { records: RECORDS });
  const gw = await gateway(t, dns, { postscreen_dnsbl_action: 'drop', postscreen_dnsbl_sites: 'bl1.test*2, bl2.test*1' });
  const c = await connect(gw, '127.0.0.10');
  t.after(() => c.destroy());
  assert.equal((await c.read(8000)).raw, '521 5.7.1 Service unavailable; client [127.0.0.10] blocked using bl1.test\r\n');
  assert.ok(await c.closedByServer(3000));
  await gw.waitLog(/postscreen\[\d+\]: DNSBL rank 2 for \[127\.0\.0\.10\]:\d+\n/);
  // A listed-below-threshold client and a client in mynetworks (127.0.0.1) are greeted normally.
  for (const from of ['127.0.0.11', '127.0.0.1']) {
    const c2 = await connect(gw, from);
    t.after(() => c2.destroy());
    assert.equal((await c2.read(8000)).code, 220, from);
    await c2.cmd('QUIT');
  }
});
