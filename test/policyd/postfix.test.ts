/**
 * A real Postfix 3.7 asking `mxguard policy` with check_policy_service: the first attempt is
 * greylisted with postgrey's reply, a retry after the delay is accepted and relayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostfix } from '../helpers/postfix.js';
import { startSink } from '../helpers/smtp-sink.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { startPolicy } from './helper.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('Postfix greylists through mxguard policy and passes the retry after the delay', async (t) => {
  const svc = await startPolicy(t, { mxguard_greylist_delay: '2s' });
  const sink = await startSink(t);
  const pf = await startPostfix(t, {
    relayhost: `[127.0.0.1]:${sink.port}`,
    main: {
      relay_domains: 'remote.test',
      smtpd_recipient_restrictions: `check_policy_service inet:127.0.0.1:${svc.port}, permit_mynetworks, reject_unauth_destination`,
    },
  });
  if (!pf) return;
  const attempt = async () => {
    const c = await SmtpTestClient.connect(pf.port);
    try {
      await c.read();
      await c.cmd('EHLO client.example');
      assert.equal((await c.cmd('MAIL FROM:<alice+news-7@sender.example>')).code, 250);
      const r = await c.cmd('RCPT TO:<bob@remote.test>', 15_000);
      if (r.code === 250) {
        assert.equal((await c.cmd('DATA')).code, 354);
        const d = await c.cmd('Subject: greylist test\r\n\r\nhello\r\n.', 15_000);
        assert.equal(d.code, 250, d.raw);
      }
      await c.cmd('QUIT');
      return r;
    } finally { c.destroy(); }
  };
  const first = await attempt();
  assert.equal(first.code, 450, first.raw);
  assert.equal(first.status, '4.2.0');
  assert.equal(first.text[0], '<bob@remote.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/remote.test.html');
  await svc.waitLog(/action=greylist, reason=new, client_name=unknown, client_address=127\.0\.0\.1, sender=alice\+news-7@sender\.example, recipient=bob@remote\.test/);
  await pf.waitLog(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 450 4\.2\.0 <bob@remote\.test>: Recipient address rejected: Greylisted/);
  await sleep(2200);
  const second = await attempt();
  assert.equal(second.code, 250, second.raw);
  await svc.waitLog(/action=pass, reason=triplet found, delay=\d+, client_name=unknown, client_address=127\.0\.0\.1/);
  const end = Date.now() + 20_000;
  while (!sink.messages.some((m) => m.rcptTo.includes('bob@remote.test'))) {
    if (Date.now() > end) throw new Error(`not relayed; postfix log:\n${pf.log().slice(-3000)}`);
    await sleep(100);
  }
});

test('Postfix is rate-limited through mxguard policy (check_rate_limits)', async (t) => {
  const svc = await startPolicy(t, {
    mxguard_state_store: 'memory:',
    mxguard_policy_restrictions: 'check_rate_limits, permit',
    mxguard_rate_limits: 'sender_domain recipients 2/1h',
  });
  const sink = await startSink(t);
  const pf = await startPostfix(t, {
    relayhost: `[127.0.0.1]:${sink.port}`,
    main: {
      relay_domains: 'remote.test',
      smtpd_recipient_restrictions: `check_policy_service inet:127.0.0.1:${svc.port}, permit_mynetworks, reject_unauth_destination`,
    },
  });
  if (!pf) return;
  const c = await SmtpTestClient.connect(pf.port);
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO client.example');
  assert.equal((await c.cmd('MAIL FROM:<script@webshop.example>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<a@remote.test>', 15_000)).code, 250);
  assert.equal((await c.cmd('RCPT TO:<b@remote.test>', 15_000)).code, 250);
  const third = await c.cmd('RCPT TO:<c@remote.test>', 15_000);
  assert.equal(third.code, 450, third.raw);
  assert.equal(third.status, '4.7.1');
  assert.match(third.text[0]!, /Error: too many recipients from webshop\.example/);
  await pf.waitLog(/\w+: reject: RCPT from unknown\[127\.0\.0\.1\]: 450 4\.7\.1 .*too many recipients from webshop\.example/);
});
