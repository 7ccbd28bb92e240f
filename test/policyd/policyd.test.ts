/**
 * `mxguard policy` speaking Postfix's policy delegation protocol: greylisting decisions as
 * actions, several requests on one connection, other restrictions' decisions mapped to access(5)
 * actions, and malformed input closing the connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyClient, startPolicy } from './helper.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const req = (over: Record<string, string> = {}) => ({
  client_address: '192.0.2.10', client_name: 'mx.example.net', reverse_client_name: 'mx.example.net', helo_name: 'mx.example.net',
  sender: 'alice+news-123@example.net', recipient: 'bob@example.org', recipient_count: '0', queue_id: '', instance: '1.1', etrn_domain: '', ...over,
});

test('greylisting over one kept-open connection: new, early retry, pass after the delay', async (t) => {
  const svc = await startPolicy(t, { mxguard_greylist_delay: '2s' });
  const c = await PolicyClient.connect(svc);
  t.after(() => c.destroy());
  assert.equal(await c.ask(req()), 'DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.org.html');
  assert.match(await c.ask(req()), /^DEFER_IF_PERMIT 4\.2\.0 Greylisted/);
  await sleep(2200);
  // Same /24, same normalised sender: the same triplet.
  assert.equal(await c.ask(req({ client_address: '192.0.2.77', sender: 'alice@example.net' })), 'DUNNO');
  assert.equal(await c.ask(req()), 'DUNNO');
  await svc.waitLog(/policy\[\d+\]: action=greylist, reason=new, client_name=mx\.example\.net, client_address=192\.0\.2\.10, sender=alice\+news-123@example\.net, recipient=bob@example\.org/);
  await svc.waitLog(/action=pass, reason=triplet found, delay=\d+, client_name=mx\.example\.net, client_address=192\.0\.2\.77/);
  // Pipelined requests are answered in order.
  c.send(Object.values([req({ recipient: 'p1@example.org' }), req({ recipient: 'p2@example.org' })]).map((r) => Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', ...r }).map(([k, v]) => `${k}=${v}\n`).join('') + '\n').join(''));
  assert.match(await c.reply(), /^DEFER_IF_PERMIT /);
  assert.match(await c.reply(), /^DEFER_IF_PERMIT /);
});

test('other restrictions: reject as NNN text, HOLD, DISCARD, permit as DUNNO; unix socket', async (t) => {
  const svc = await startPolicy(t, {
    mxguard_policy_restrictions: 'check_sender_access inline:{ spam@bad.test=REJECT no thanks, hold@x.test=HOLD, drop@x.test=DISCARD }, permit',
  }, { unix: true });
  const c = await PolicyClient.connect(svc);
  t.after(() => c.destroy());
  assert.equal(await c.ask(req({ sender: 'spam@bad.test' })), '554 5.7.1 no thanks');
  assert.equal(await c.ask(req({ sender: 'hold@x.test' })), 'HOLD');
  assert.equal(await c.ask(req({ sender: 'drop@x.test' })), 'DISCARD');
  assert.equal(await c.ask(req({ sender: 'ok@x.test' })), 'DUNNO');
});

test('malformed requests close the connection; so does a silent client after the read timeout', async (t) => {
  const svc = await startPolicy(t, { mxguard_policy_read_timeout: '1s', mxguard_policy_request_limit: '2048' });
  const cases: [string, string][] = [
    ['no = in a line', 'request=smtpd_access_policy\nthis line is bad\n\n'],
    ['no request attribute', 'client_address=192.0.2.1\nrecipient=a@b.test\n\n'],
    ['unknown request type', 'request=something_else\n\n'],
    ['empty name', '=x\n\n'],
    ['too long', `request=smtpd_access_policy\nsender=${'a'.repeat(4000)}\n\n`],
  ];
  for (const [what, raw] of cases) {
    const c = await PolicyClient.connect(svc);
    t.after(() => c.destroy());
    c.send(raw);
    assert.equal(await c.reply(), 'closed', what);
  }
  // A good request still works on a fresh connection afterwards.
  const ok = await PolicyClient.connect(svc);
  t.after(() => ok.destroy());
  assert.match(await ok.ask(req()), /^DEFER_IF_PERMIT /);
  // Half a request, then silence: closed after the read timeout.
  ok.send('request=smtpd_access_policy\nclient_address=1.2.3.4\n');
  assert.equal(await ok.reply(5000), 'closed');
  await svc.waitLog(/warning: 127\.0\.0\.1:\d+: read timeout; closing the connection/);
  await svc.waitLog(/warning: 127\.0\.0\.1:\d+: malformed attribute line "this line is bad"; closing the connection/);
});

test('SIGHUP reloads the restriction list; a broken configuration keeps the running one', async (t) => {
  const svc = await startPolicy(t, { mxguard_policy_restrictions: 'permit' });
  const c = await PolicyClient.connect(svc);
  t.after(() => c.destroy());
  assert.equal(await c.ask(req({ sender: 'spam@bad.test' })), 'DUNNO');
  const main = join(svc.dir, 'main.cf');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/^mxguard_policy_restrictions = .*$/m, 'mxguard_policy_restrictions = check_sender_access inline:{ spam@bad.test=REJECT not now }, permit'));
  svc.proc.kill('SIGHUP');
  await svc.waitLog(/reloaded the configuration/);
  assert.equal(await c.ask(req({ sender: 'spam@bad.test' })), '554 5.7.1 not now', 'the kept-open connection uses the new list');
  writeFileSync(main, readFileSync(main, 'utf8') + 'mxguard_policy_read_timeout = not-a-time\n');
  svc.proc.kill('SIGHUP');
  await svc.waitLog(/reload failed, keeping the running configuration/);
  assert.equal(await c.ask(req({ sender: 'spam@bad.test' })), '554 5.7.1 not now');
});

test('check_rate_limits: a Postfix asking the policy service is rate-limited by mxguard_rate_limits', async (t) => {
  const svc = await startPolicy(t, {
    mxguard_state_store: 'memory:',
    mxguard_policy_restrictions: 'check_rate_limits, permit',
    mxguard_rate_limits: 'sasl_username recipients 2/1h',
  });
  const c = await PolicyClient.connect(svc);
  t.after(() => c.destroy());
  const bob = { sasl_method: 'PLAIN', sasl_username: 'bob' };
  assert.equal(await c.ask(req({ ...bob, recipient: 'a@example.test' })), 'DUNNO');
  assert.equal(await c.ask(req({ ...bob, recipient: 'b@example.test' })), 'DUNNO');
  assert.equal(await c.ask(req({ ...bob, recipient: 'c@example.test' })), '450 4.7.1 Error: too many recipients from bob');
  assert.equal(await c.ask(req({ sasl_method: 'PLAIN', sasl_username: 'alice', recipient: 'c@example.test' })), 'DUNNO', 'another account');
  await svc.waitLog(/Rate limit exceeded: 3 recipients per 1h \(limit 2\) for sasl_username=bob/);
});
