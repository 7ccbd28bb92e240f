/**
 * check_greylist in a real gateway (mxguard serve), clients from several 127.x.y.z sources:
 * a client that does not retry never gets its recipient accepted, one that retries after the
 * delay does, allow-listed clients pass at once, and a client is auto-allow-listed.
 * The delay is 2 s; the only timing assumption is "a retry after the delay has passed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('greylisting through the gateway', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-grey-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'clients'), '# allowed networks\n127.9.0.0/16\n');
  writeFileSync(join(dir, 'recipients'), 'postmaster@\n');
  const gw = await startGateway(t, {
    relay_domains: 'remote.test',
    smtpd_recipient_restrictions: 'check_greylist',
    mxguard_greylist_delay: '2s',
    mxguard_greylist_auto_allowlist_clients: '1',
    mxguard_greylist_client_allowlist: join(dir, 'clients'),
    mxguard_greylist_recipient_allowlist: join(dir, 'recipients'),
  });

  /** One transaction from `from`: the RCPT reply, and the DATA result when accepted. */
  const attempt = async (from: string, sender: string, rcpt: string) => {
    const c = await SmtpTestClient.connect(gw.port, { localAddress: from });
    try {
      await c.read();
      assert.equal((await c.cmd('EHLO client.example')).code, 250);
      assert.equal((await c.cmd(`MAIL FROM:<${sender}>`)).code, 250);
      const r = await c.cmd(`RCPT TO:<${rcpt}>`);
      let queued = false;
      if (r.code === 250) {
        assert.equal((await c.cmd('DATA')).code, 354);
        const d = await c.cmd('Subject: hi\r\n\r\nbody\r\n.', 15_000);
        queued = d.code === 250 && /queued as/.test(d.text.join(' '));
      }
      await c.cmd('QUIT');
      return { r, queued };
    } finally { c.destroy(); }
  };

  await t.test('a new triplet is deferred, an early retry too; a client that never retries never delivers', async () => {
    const a = await attempt('127.1.0.10', 'alice+news-123@sender.example', 'bob@remote.test');
    assert.equal(a.r.code, 450);
    assert.equal(a.r.status, '4.2.0');
    assert.equal(a.r.text[0], '<bob@remote.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/remote.test.html');
    assert.equal(a.queued, false);
    await gw.waitLog(/action=greylist, reason=new, client_name=unknown, client_address=127\.1\.0\.10, sender=alice\+news-123@sender\.example, recipient=bob@remote\.test/);
    const never = await attempt('127.4.0.1', 'once@sender.example', 'carol@remote.test');
    assert.equal(never.r.code, 450);
  });

  await t.test('a retry after the delay passes, from another address of the same /24 and with another VERP number', async () => {
    await sleep(2200);
    const a = await attempt('127.1.0.77', 'alice+news-456@sender.example', 'bob@remote.test');
    assert.equal(a.r.code, 250, a.r.raw);
    assert.ok(a.queued);
    await gw.waitLog(/action=pass, reason=triplet found, delay=\d+, client_name=unknown, client_address=127\.1\.0\.77, sender=alice\+news-456@sender\.example, recipient=bob@remote\.test/);
  });

  await t.test('the client that passed is auto-allow-listed; its neighbour in the /24 is not; another /24 is a new triplet', async () => {
    await gw.waitLog(/whitelisted: unknown\[127\.1\.0\.77\]/);
    const a = await attempt('127.1.0.77', 'other@sender.example', 'dave@remote.test');
    assert.equal(a.r.code, 250, a.r.raw);
    await gw.waitLog(/action=pass, reason=client AWL, client_name=unknown, client_address=127\.1\.0\.77/);
    assert.equal((await attempt('127.1.0.78', 'other@sender.example', 'dave@remote.test')).r.code, 450);
    assert.equal((await attempt('127.2.0.10', 'alice@sender.example', 'bob@remote.test')).r.code, 450);
  });

  await t.test('allow lists: a listed client network and a listed recipient pass at once', async () => {
    assert.equal((await attempt('127.9.1.1', 'x@sender.example', 'erin@remote.test')).r.code, 250);
    await gw.waitLog(/action=pass, reason=client whitelist, client_name=unknown, client_address=127\.9\.1\.1/);
    assert.equal((await attempt('127.5.0.1', 'x@sender.example', 'postmaster@remote.test')).r.code, 250);
    await gw.waitLog(/action=pass, reason=recipient whitelist, client_name=unknown, client_address=127\.5\.0\.1/);
  });
});

test('mxguard_greylist_only_if = no_fcrdns: only clients without a verified name are greylisted', async (t) => {
  const gw = await startGateway(t, {
    relay_domains: 'remote.test',
    smtpd_recipient_restrictions: 'check_greylist',
    mxguard_greylist_only_if: 'no_fcrdns',
  });
  // With smtpd_peername_lookup = no every client is "unknown": the condition holds.
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.6.0.1' });
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<a@sender.example>');
  const r = await c.cmd("RCPT TO:<b@remote.test>");
  assert.equal(r.code, 450, r.raw + gw.log());
  await c.cmd('QUIT');
});
