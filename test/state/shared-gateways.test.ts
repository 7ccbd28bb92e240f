/**
 * Two mxguard gateways on one Redis share greylisting and bans (as several MX hosts of one
 * domain would), and a Redis that stops answering gives the configured behaviour: fail open
 * (greylisting says nothing, mail flows) or tempfail (451 4.3.0), never a crash or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';
import { runCli } from '../helpers/run-cli.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

async function rcpt(gw: Gateway, from: string, localAddress: string): Promise<string> {
  const c = await SmtpTestClient.connect(gw.port, { localAddress });
  try {
    const greet = await c.read();
    if (greet.code !== 220) return `${greet.code} ${greet.status ?? ''} ${greet.text.join(' ')}`.trim();
    await c.cmd('EHLO mta.sender.test');
    await c.cmd(`MAIL FROM:<${from}>`);
    const r = await c.cmd('RCPT TO:<alice@example.test>');
    await c.cmd('QUIT');
    return `${r.code} ${r.status ?? ''}`.trim();
  } finally { c.socket.destroy(); }
}

test('two gateways on one Redis share greylisting and bans; a stopped Redis fails open or tempfails as configured', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const shared = {
    mxguard_state_store: redis.url, mxguard_state_store_timeout: '0.3s',
    smtpd_recipient_restrictions: 'check_greylist', mxguard_greylist_delay: '1s', mxguard_greylist_action: 'defer',
  };
  const mx1 = await startGateway(t, shared);
  const mx2 = await startGateway(t, shared);
  const mx3 = await startGateway(t, { ...shared, mxguard_state_store_failure: 'tempfail' });

  // Greylisted at mx1, then accepted at mx2 after the delay: the triplet lives in Redis.
  assert.equal(await rcpt(mx1, 'news@sender.test', '127.0.60.1'), '450 4.2.0');
  assert.equal(await rcpt(mx2, 'news@sender.test', '127.0.60.2'), '450 4.2.0', 'same /24, still too early');
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(await rcpt(mx2, 'news@sender.test', '127.0.60.3'), '250 2.1.5');

  // A ban made through mx1's configuration refuses the client at mx2 as well.
  const add = await runCli(['bans', 'add', '127.0.61.1', '--reason', 'test', '--config', mx1.dir]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(await rcpt(mx2, 'x@sender.test', '127.0.61.1'), /^421 4\.7\.0 .*banned/);
  assert.equal(await rcpt(mx2, 'x@sender.test', '127.0.61.2'), '450 4.2.0', 'another client is not banned');

  // Redis stops: fail open at mx1 (a new triplet passes), tempfail at mx3; both stay up.
  await redis.stop();
  assert.equal(await rcpt(mx1, 'new@other.test', '127.0.62.1'), '250 2.1.5');
  // With tempfail the ban check at connect already cannot answer: 421 4.3.0 before the greeting.
  assert.match(await rcpt(mx3, 'new@other.test', '127.0.62.2'), /^421 4\.3\.0 /);
  await mx1.waitLog(/warning: state store redis:\/\/.*unavailable.*failing open/);
  assert.equal(mx1.proc.exitCode, null);
  assert.equal(mx3.proc.exitCode, null);

  // Redis back: greylisting works again.
  await redis.start();
  let back = '';
  for (let i = 0; i < 40 && back !== '450 4.2.0'; i++) {
    back = await rcpt(mx1, `again${i}@third.test`, '127.0.63.1');
    if (back !== '450 4.2.0') await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(back, '450 4.2.0');
});
