/**
 * RFC 8601 §5: Authentication-Results: fields that claim this host's authserv-id are removed
 * from what is stored; others, and the body, are kept byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ForgedResultsFilter } from '../../src/mailauth/forged.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const MESSAGE = [
  'Authentication-Results: mx.example.test; dkim=pass header.d=bank.example',
  'Subject: hello',
  'authentication-results: MX.EXAMPLE.TEST;',
  '\tspf=pass smtp.mailfrom=bank.example',
  'Authentication-Results: other.example; spf=fail',
  '',
  'Authentication-Results: mx.example.test; body text is not a header',
  '',
].join('\r\n');

const EXPECTED = [
  'Subject: hello',
  'Authentication-Results: other.example; spf=fail',
  '',
  'Authentication-Results: mx.example.test; body text is not a header',
  '',
].join('\r\n');

test('the filter removes our own authserv-id only, whatever the chunk boundaries', () => {
  const input = Buffer.from(MESSAGE, 'latin1');
  for (const size of [1, 2, 3, 7, 16, 64, input.length]) {
    const f = new ForgedResultsFilter('mx.example.test');
    const parts: Buffer[] = [];
    for (let i = 0; i < input.length; i += size) parts.push(f.push(input.subarray(i, i + size)));
    parts.push(f.flush());
    assert.equal(Buffer.concat(parts).toString('latin1'), EXPECTED, `chunks of ${size}`);
    assert.equal(f.removed, 2);
  }
  const none = new ForgedResultsFilter('mx.example.test');
  assert.equal(none.push(Buffer.from('Subject: x\r\n\r\nbody\r\n')).toString(), 'Subject: x\r\n\r\nbody\r\n');
});

test('a delivered message carries our Authentication-Results: and none forged in our name', async (t) => {
  const dns = await startDnsServer(t, { records: [{ name: 'example.test', type: 'SOA', data: 'ns.example.test hostmaster.example.test 1 3600 600 86400 30' }] });
  const gw = await startGateway(t, { mxguard_mailauth_enable: 'yes', mxguard_dns_servers: dns.server, mynetworks: '127.0.0.1/32' });
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  t.after(() => c.socket.destroy());
  await c.read();
  await c.cmd('EHLO client.example.test');
  assert.equal((await c.cmd('MAIL FROM:<a@sender.example.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  assert.equal((await c.cmd(`${MESSAGE}.`)).code, 250);
  await gw.waitLog(/removed 2 Authentication-Results: header\(s\) claiming mx\.example\.test/);
  await gw.waitLog(/to=<alice@example\.test>.*status=sent/);
  const dir = join(gw.mailDir, 'example.test/alice/new');
  const text = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
  const header = text.split(/\r?\n\r?\n/)[0]!;
  const ours = header.split(/\r?\n/).filter((l) => /^authentication-results:\s*mx\.example\.test/i.test(l));
  assert.equal(ours.length, 1, text);
  assert.doesNotMatch(text, /dkim=pass header\.d=bank\.example/);
  assert.match(text, /Authentication-Results: other\.example; spf=fail/);
});
