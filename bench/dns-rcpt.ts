/**
 * DNS checks at RCPT: the added latency of a restriction list of 6 DNS checks when every answer
 * is cached, and the time of one evaluation with a cold cache when each list answers slowly
 * (the lookups are started together, so the total should be close to the slowest, not the sum).
 * A test DNS server on loopback answers; nothing leaves the machine.
 *   node dist/bench/dns-rcpt.js
 */
import { Config } from '../src/config/config.js';
import { clearDnsCache } from '../src/dns/index.js';
import { evaluateRcpt } from '../src/engine/index.js';
import type { TransactionContext } from '../src/engine/types.js';
import { startDnsServer } from '../test/helpers/dns-server.js';

const cleanups: (() => unknown)[] = [];
try {
  const dns = await startDnsServer({ after: (f) => cleanups.push(f) }, {
    records: [
      { name: 'mail.sender.example', type: 'A', data: '198.51.100.7' },
      { name: 'sender.example', type: 'MX', data: '10 mail.sender.example' },
      ...['a.rbl.test', 'b.rbl.test', 'c.dbl.test', 'd.dbl.test'].map((z) => ({ name: z, type: 'SOA' as const, data: `ns.${z} hostmaster.${z} 1 3600 600 86400 300` })),
    ],
  });
  const checks = [
    'reject_unknown_helo_hostname', 'reject_unknown_sender_domain', 'reject_rbl_client a.rbl.test',
    'reject_rbl_client b.rbl.test', 'reject_rhsbl_sender c.dbl.test', 'reject_rhsbl_helo d.dbl.test',
  ];
  const config = (list: string) => new Config(new Map(Object.entries({
    mydestination: 'example.test', mxguard_dns_servers: dns.server,
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    smtpd_recipient_restrictions: list,
  }).map(([k, v]) => [k, { value: v, file: 'bench', line: 1 }])), new Map([['myhostname', 'mx.example.test'], ['mydomain', 'example.test'], ['mynetworks', '127.0.0.1/32'], ['config_directory', '']]));
  const ctx = (cfg: Config): TransactionContext => ({
    stage: 'rcpt', config: cfg, service: 'smtp',
    client: { address: '198.51.100.7', port: 40000, name: 'mail.sender.example', reverseName: 'mail.sender.example' },
    helo: 'mail.sender.example', protocol: 'ESMTP', tls: false,
    sender: 'someone@sender.example', recipient: 'alice@example.test', recipientCount: 0,
  });
  const median = async (c: TransactionContext, n: number) => {
    const d0 = await evaluateRcpt(c);
    if (d0.action !== 'accept') throw new Error(`not accepted: ${JSON.stringify(d0.reply)} ${JSON.stringify(d0.trace.at(-1))}`);
    for (let i = 0; i < 2000; i++) await evaluateRcpt(c);
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) { const s = process.hrtime.bigint(); await evaluateRcpt(c); t[i] = Number(process.hrtime.bigint() - s) / 1000; }
    t.sort();
    return t[Math.floor(n / 2)]!;
  };
  const base = ctx(config('permit_mynetworks, reject_unauth_destination'));
  const withDns = ctx(config(`${checks.join(', ')}, permit_mynetworks, reject_unauth_destination`));
  const m0 = await median(base, 10000);
  const m1 = await median(withDns, 10000);
  console.log(`warm cache: ${checks.length} DNS checks add ${(m1 - m0).toFixed(1)} µs median (${m0.toFixed(1)} → ${m1.toFixed(1)} µs per RCPT evaluation)`);

  // Cold: each zone answers after its own delay.
  const delays = [20, 40, 60, 80, 100, 120];
  const zones = ['sender.example', 'mail.sender.example', 'a.rbl.test', 'b.rbl.test', 'c.dbl.test', 'd.dbl.test'];
  zones.forEach((z, i) => dns.setBehaviour(z, { delayMs: delays[i]! }));
  const runs: number[] = [];
  for (let i = 0; i < 10; i++) {
    clearDnsCache();
    const s = process.hrtime.bigint();
    const d = await evaluateRcpt(withDns);
    runs.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (d.action !== 'accept') throw new Error('cold evaluation was not accepted');
  }
  runs.sort((a, b) => a - b);
  console.log(`cold cache, lists answering after ${delays.join('/')} ms: median ${runs[5]!.toFixed(0)} ms per evaluation (slowest ${Math.max(...delays)} ms, sum ${delays.reduce((a, b) => a + b, 0)} ms)`);
} finally {
  for (const f of cleanups.reverse()) await f();
}
