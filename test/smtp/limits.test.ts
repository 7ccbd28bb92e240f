/**
 * Parameters that change the session's rules: smtpd_timeout, disable_vrfy_command,
 * smtpd_helo_required, smtpd_delay_reject = no with a HELO/sender restriction list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

test('smtpd_timeout: a silent client gets 421 4.4.2 and the session is logged as timed out', async (t) => {
  const gw = await startGateway(t, { smtpd_timeout: '1s' });
  const c = await SmtpTestClient.connect(gw.port);
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO slow.example');
  const r = await c.read(5000);
  assert.deepEqual([r.code, r.status, r.text[0]], [421, '4.4.2', 'mx.example.test Error: timeout exceeded']);
  assert.ok(await c.closedByServer());
  await gw.waitLog(/timeout after EHLO from unknown\[127\.0\.0\.1\]/);
});

test('disable_vrfy_command, smtpd_helo_required, and restrictions at their own stage with smtpd_delay_reject = no', async (t) => {
  const gw = await startGateway(t, {
    disable_vrfy_command: 'yes',
    smtpd_helo_required: 'yes',
    smtpd_delay_reject: 'no',
    smtpd_helo_restrictions: 'permit_mynetworks, reject',
    smtpd_sender_restrictions: 'permit_mynetworks, reject',
  });
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.40' });
  t.after(() => c.destroy());
  await c.read();
  assert.deepEqual(await c.cmd('VRFY alice').then((x) => [x.code, x.status, x.text[0]]), [502, '5.5.1', 'VRFY command is disabled']);
  assert.deepEqual(await c.cmd('MAIL FROM:<a@remote.test>').then((x) => [x.code, x.status, x.text[0]]), [503, '5.5.1', 'Error: send HELO/EHLO first']);
  const h = await c.cmd('EHLO outsider.example');
  assert.deepEqual([h.code, h.status], [554, '5.7.1'], h.text.join(' '));
  assert.match(h.text[0]!, /<outsider\.example>: Helo command rejected: Access denied/);
  await gw.waitLog(/NOQUEUE: reject: EHLO from unknown\[127\.0\.0\.40\]: 554 5\.7\.1 <outsider\.example>: Helo command rejected: Access denied; proto=SMTP helo=<outsider\.example>/);
  // From mynetworks both lists permit.
  const ok = await SmtpTestClient.connect(gw.port);
  t.after(() => ok.destroy());
  await ok.read();
  assert.equal((await ok.cmd('EHLO inside.example')).code, 250);
  assert.equal((await ok.cmd('MAIL FROM:<a@example.test>')).code, 250);
});
