/**
 * `mxguard check --mailauth` and `--message FILE`: SPF at MAIL FROM, DKIM and DMARC after DATA,
 * answered by the loopback test DNS server; without the options nothing is looked up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer, type TestDns } from '../helpers/dns-server.js';
import { runCli } from '../helpers/run-cli.js';
import { keyRecord, message, signed, txt } from './fixtures.js';

let dns: TestDns;
let dir: string;
const cleanups: (() => unknown)[] = [];
before(async () => {
  dns = await startDnsServer({ after: (f) => cleanups.push(f) }, {
    records: [txt('fail-c.test', 'v=spf1 ip4:127.0.0.200 -all'), txt('pass-c.test', 'v=spf1 ip4:127.0.0.9 -all'), keyRecord('pass-c.test'), txt('_dmarc.pass-c.test', 'v=DMARC1; p=reject')],
  });
  dir = mkdtempSync(join(tmpdir(), 'mxg-check-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.cf'), `myhostname = mx.example.test\nmydestination = example.test\nmynetworks = 127.0.0.1/32\nmxguard_dns_servers = ${dns.server}\nmxguard_dns_timeout = 1s\nmxguard_spf_fail_action = reject\n`);
  writeFileSync(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\n');
});
after(async () => { for (const f of cleanups.reverse()) await f(); });

const args = (sender: string, ...more: string[]) => ['check', '--config', dir, '--client-address', '127.0.0.9', '--helo', 'client.remote.test', '--sender', sender, '--recipient', 'alice@example.test', ...more];

test('--mailauth: an SPF fail is the reply at MAIL FROM (exit 1)', async () => {
  const r = await runCli(args('a@fail-c.test', '--mailauth'));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /mail: MAIL FROM:<a@fail-c\.test>\n  550 5\.7\.23 <a@fail-c\.test>: Sender address rejected: SPF fail/);
  assert.match(r.stdout, /authentication: spf=fail .*smtp\.mailfrom=a@fail-c\.test/);
});

test('--message: DKIM and DMARC, and the Authentication-Results: header the gateway would add', async () => {
  const file = join(dir, 'msg.eml');
  writeFileSync(file, (await signed(message({ from: 'a@pass-c.test' }), 'pass-c.test')).replace(/\r\n/g, '\n'));
  const r = await runCli(args('a@pass-c.test', '--message', file, '--json'));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(r.stdout) as { stages: { stage: string; authentication?: string[] }[] };
  const eod = doc.stages.find((s) => s.stage === 'eod')!;
  const header = eod.authentication!.join('\n');
  assert.match(header, /^Authentication-Results: mx\.example\.test;/);
  assert.match(header, /spf=pass/);
  assert.match(header, /dkim=pass/);
  assert.match(header, /dmarc=pass/);
});

test('without the options nothing is looked up', async () => {
  dns.clearQueries();
  const r = await runCli(args('a@fail-c.test'));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /authentication:/);
  assert.deepEqual(dns.queries(), []);
});
