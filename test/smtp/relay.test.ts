/**
 * The open-relay battery on the wire, from a client outside mynetworks (127.0.0.9 while
 * mynetworks = 127.0.0.1/32): Postfix's address forms that tricked relays in the past.
 * None may be accepted for a remote destination; local mail still flows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const shared = sharedGateway({
  mydestination: 'example.test',
  smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
  smtpd_hard_error_limit: '100',
});
const gwRef = () => shared.gw;

const BATTERY: [string, string][] = [
  ['user@remote.test', 'plain remote domain'],
  ['user%remote.test@example.test', 'percent hack'],
  ['remote.test!user@example.test', 'bang path'],
  ['"user@remote.test"@example.test', 'quoted local part with @'],
  ['"user%remote.test"@example.test', 'quoted percent hack'],
  ['@example.test:user@remote.test', 'source route to a remote domain'],
  ['user@remote.test@example.test', 'double @'],
  ['user@[192.0.2.1]', 'IP literal of another host'],
  ['user@[IPv6:2001:db8::1]', 'IPv6 literal of another host'],
  ['user@remote.test.', 'trailing dot'],
  ['user@example.test@', 'trailing @'],
  ['user@remote.test%example.test', 'percent in the domain'],
  ['user@EXAMPLE.test.remote.test', 'local name as a subdomain of a remote one'],
];

test('nothing in the relay battery is accepted from an outside client', async (t) => {
  const c = await SmtpTestClient.connect(gwRef().port, { localAddress: '127.0.0.9' });
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO prober.example');
  const accepted: string[] = [];
  for (const [addr, what] of BATTERY) {
    assert.equal((await c.cmd('MAIL FROM:<probe@prober.example>')).code, 250);
    const r = await c.cmd(`RCPT TO:<${addr}>`);
    if (r.code < 400) accepted.push(`${addr} (${what})`);
    else assert.ok(r.code >= 500 || r.code === 454, `${addr}: ${r.code} ${r.text.join(' ')}`);
    await c.cmd('RSET');
  }
  assert.deepEqual(accepted, []);
  // The client can still send to a real local mailbox.
  await c.cmd('MAIL FROM:<probe@prober.example>');
  assert.equal((await c.cmd('RCPT TO:<user@example.test>')).code, 250);
  assert.match(gwRef().log(), /NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 <user@remote\.test>: Relay access denied/);
});

test('the same battery from mynetworks is relayed (trusted client), so the refusal above is about the client', async (t) => {
  const c = await SmtpTestClient.connect(gwRef().port, { localAddress: '127.0.0.1' });
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO trusted.example');
  await c.cmd('MAIL FROM:<a@example.test>');
  assert.equal((await c.cmd('RCPT TO:<user@remote.test>')).code, 250);
});
