/**
 * Bans in a real gateway (mxguard serve), clients from several 127.x.y.z sources: 20 failed
 * AUTH attempts ban a client (421 4.7.0 at connect, logged), a session ended by the hard error
 * limit bans when so configured, an allowlisted client is never banned, and `mxguard bans
 * list|add|remove|export --nft` works on the server's own (SQLite) store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { runCli } from '../helpers/run-cli.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('bans through the gateway and the bans command', async (t) => {
  const gw = await startGateway(t, {
    smtpd_tls_auth_only: 'no',
    mxguard_ban_auth_failures: '20',
    mxguard_ban_error_limit: '1',
    mxguard_ban_time: '1h',
    mxguard_ban_exceptions: '127.0.5.0/24',
  });
  const r = await runCli(['passwd', 'add', 'alice', '--config', gw.dir], { input: 'right pw\n' });
  assert.equal(r.code, 0, r.stderr);
  const open = async (localAddress: string) => {
    const c = await SmtpTestClient.connect(gw.port, { localAddress });
    t.after(() => c.destroy());
    return c;
  };
  /** failAuth - `n` failed AUTH PLAIN attempts in one session. */
  const failAuth = async (address: string, n: number) => {
    const c = await open(address);
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.cmd('EHLO guesser.example')).code, 250);
    for (let i = 0; i < n; i++) assert.equal((await c.cmd('AUTH PLAIN ' + b64(`\0alice\0guess${i}`))).code, 535);
    await c.cmd('QUIT');
  };
  const greeting = async (address: string) => {
    const c = await open(address);
    const g = await c.read();
    return g;
  };

  await t.test('20 failed AUTH attempts over several sessions ban the client', async () => {
    for (let i = 0; i < 4; i++) await failAuth('127.0.3.1', 5);
    await gw.waitLog(/warning: ban: client \[127\.0\.3\.1\] banned for 3600s until \S+ \(ban 1\): 20 failed AUTH attempts within 600s \(reason=auth_failure\)/);
    const g = await greeting('127.0.3.1');
    assert.deepEqual([g.code, g.status, g.text[0]], [421, '4.7.0', 'mx.example.test Error: client 127.0.3.1 banned (auth_failure); try again later']);
    await gw.waitLog(/NOQUEUE: reject: CONNECT from unknown\[127\.0\.3\.1\]: 421 4\.7\.0 mx\.example\.test Error: client 127\.0\.3\.1 banned \(auth_failure\); try again later; ban 1 until \S+; proto=SMTP/);
    assert.equal((await greeting('127.0.3.2')).code, 220, 'another address is not banned');
  });

  await t.test('a session ended by the hard error limit bans (mxguard_ban_error_limit = 1)', async () => {
    const c = await open('127.0.3.7');
    assert.equal((await c.read()).code, 220);
    let last = 0;
    for (let i = 0; i < 25 && last !== 421; i++) last = (await c.cmd('BOGUS')).code;
    assert.equal(last, 421);
    await gw.waitLog(/ban: client \[127\.0\.3\.7\] banned .*reason=error_limit/);
    assert.equal((await greeting('127.0.3.7')).code, 421);
  });

  await t.test('allowlisted clients ($mynetworks, $mxguard_ban_exceptions) are never banned', async () => {
    // 21 failures each, in sessions that stay under the hard error limit (20).
    for (const a of ['127.0.5.1', '127.0.0.1']) { await failAuth(a, 11); await failAuth(a, 10); }
    assert.equal((await greeting('127.0.5.1')).code, 220);
    assert.equal((await greeting('127.0.0.1')).code, 220);
    assert.doesNotMatch(gw.log(), /ban: client \[127\.0\.(5\.1|0\.1)\]/);
  });

  await t.test('mxguard bans list, add, remove and export --nft', async () => {
    const cli = (...args: string[]) => runCli(['bans', ...args, '--config', gw.dir]);
    const list = await cli('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^127\.0\.3\.1\s+\d+s\s+\S+\s+#1\s+server\s+auth_failure$/m);
    assert.match(list.stdout, /^127\.0\.3\.7\s+.*\s+server\s+error_limit$/m);
    const add = await cli('add', '127.0.4.4', '--reason', 'spam run', '--time', '2h');
    assert.equal(add.code, 0, add.stderr);
    const g = await greeting('127.0.4.4');
    assert.deepEqual([g.code, g.text[0]], [421, 'mx.example.test Error: client 127.0.4.4 banned (spam run); try again later']);
    const refused = await cli('add', '127.0.5.9');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /never banned/);
    const nft = await cli('export', '--nft', '--set', 'mxg');
    assert.equal(nft.code, 0, nft.stderr);
    assert.match(nft.stdout, /^add set inet mxguard mxg \{ type ipv4_addr; flags timeout; \}$/m);
    assert.match(nft.stdout, /^add element inet mxguard mxg \{ 127\.0\.4\.4 timeout \d+s \} # spam run$/m);
    assert.match(nft.stdout, /^add element inet mxguard mxg \{ 127\.0\.3\.1 timeout \d+s \} # auth_failure$/m);
    const rm = await cli('remove', '127.0.3.1');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await greeting('127.0.3.1')).code, 220, 'unbanned');
    assert.equal((await cli('remove', '127.0.3.1')).code, 1, 'no such ban');
    const json = JSON.parse((await cli('list', '--json')).stdout) as { address: string; reason: string }[];
    assert.deepEqual(json.map((b) => b.address).sort(), ['127.0.3.7', '127.0.4.4']);
  });
});
