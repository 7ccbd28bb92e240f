/**
 * Rate limits in a real gateway (mxguard serve), clients from several 127.x.y.z sources: a
 * client over smtpd_client_connection_rate_limit gets smtpd.c's 421 and warning while
 * $mynetworks is exempt, and a SASL user over its hourly message rule gets a 4xx at MAIL FROM
 * and a log line (the stolen submission password case).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { runCli } from '../helpers/run-cli.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('connection rate and per-SASL-user message limits through the gateway', async (t) => {
  const gw = await startGateway(t, {
    smtpd_client_connection_rate_limit: '3',
    anvil_rate_time_unit: '60s',
    smtpd_tls_auth_only: 'no',
    mxguard_rate_limits: 'sasl_username messages 2/1h 100/1d',
  });
  const r = await runCli(['passwd', 'add', 'alice', '--config', gw.dir], { input: 'pw alice\n' });
  assert.equal(r.code, 0, r.stderr);
  const open = async (localAddress: string) => {
    const c = await SmtpTestClient.connect(gw.port, { localAddress });
    t.after(() => c.destroy());
    return c;
  };

  await t.test('a client over its connection rate gets 421 4.7.0 and a warning; others do not', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await open('127.0.7.1');
      assert.equal((await c.read()).code, 220);
      await c.cmd('QUIT');
    }
    const over = await open('127.0.7.1');
    const rep = await over.read();
    assert.deepEqual([rep.code, rep.status, rep.text[0]], [421, '4.7.0', 'mx.example.test Error: too many connections from 127.0.7.1']);
    assert.ok(await over.closedByServer());
    await gw.waitLog(/warning: Connection rate limit exceeded: 4 from unknown\[127\.0\.7\.1\] for service 127\.0\.0\.1:\d+/);
    const other = await open('127.0.7.2');
    assert.equal((await other.read()).code, 220);
    // $mynetworks (127.0.0.1/32 here) is in $smtpd_client_event_limit_exceptions.
    for (let i = 0; i < 5; i++) {
      const c = await open('127.0.0.1');
      assert.equal((await c.read()).code, 220);
      await c.cmd('QUIT');
    }
  });

  await t.test('a SASL user over its hourly message limit gets 450 4.7.1 at MAIL FROM, logged', async () => {
    const c = await open('127.0.8.1');
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.cmd('EHLO client.example')).code, 250);
    assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0pw alice'))).code, 235);
    for (let i = 0; i < 2; i++) {
      assert.equal((await c.cmd('MAIL FROM:<alice@example.test>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<someone@remote.test>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      assert.equal((await c.cmd(`Subject: ${i}\r\n\r\nhello\r\n.`)).code, 250);
    }
    const third = await c.cmd('MAIL FROM:<alice@example.test>');
    assert.deepEqual([third.code, third.status, third.text[0]], [450, '4.7.1', 'Error: too much mail from alice']);
    await gw.waitLog(/warning: Rate limit exceeded: 3 messages per 1h \(limit 2\) for sasl_username=alice from unknown\[127\.0\.8\.1\] for service \S+; rule "sasl_username messages 2\/1h 100\/1d"/);
    // The limit follows the account, not the address: another client logged in as alice is refused too.
    const d = await open('127.0.8.2');
    assert.equal((await d.read()).code, 220);
    await d.cmd('EHLO other.example');
    assert.equal((await d.cmd('AUTH PLAIN ' + b64('\0alice\0pw alice'))).code, 235);
    assert.equal((await d.cmd('MAIL FROM:<alice@example.test>')).code, 450);
    // A client that is not logged in is not concerned by the sasl_username rule.
    const e = await open('127.0.8.3');
    assert.equal((await e.read()).code, 220);
    await e.cmd('EHLO anon.example');
    assert.equal((await e.cmd('MAIL FROM:<x@remote.test>')).code, 250);
  });
});
