/**
 * check_greylist through the evaluator: the reply (DEFER_IF_PERMIT by default, so a later reject
 * wins), the immediate `defer` action, mxguard_greylist_only_if, the postgrey log line as an
 * event, and $mxguard_state_store_failure when the store is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRcpt } from '../../src/engine/index.js';
import { useGreylistStore } from '../../src/greylist/store.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StoreUnavailableError, type StateStore } from '../../src/state/types.js';
import { replyLine } from '../../src/smtp/reply.js';
import { rcptContext, testConfig } from '../engine/config-helper.js';

const base = { mydestination: 'example.test', smtpd_reject_unlisted_recipient: 'no', mxguard_state_store: 'memory:' };

test('a new triplet: 450 4.2.0 after the lists, unless something rejects; the log line is postgrey\'s', async (t) => {
  useGreylistStore(new MemoryStore());
  t.after(() => useGreylistStore(undefined));
  const cfg = testConfig({ ...base, smtpd_recipient_restrictions: 'check_greylist, check_sender_access inline:{ bad@remote.test=REJECT }' });
  const d = await evaluateRcpt(rcptContext(cfg, 'alice@example.test'));
  assert.equal(d.reply && replyLine(d.reply), '450 4.2.0 <alice@example.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html');
  assert.deepEqual(d.events.map((e) => e.text), ['action=greylist, reason=new, client_name=unknown, client_address=127.0.0.9, sender=sender@remote.test, recipient=alice@example.test']);
  const r = await evaluateRcpt(rcptContext(cfg, 'alice@example.test', { sender: 'bad@remote.test' }));
  assert.equal(r.reply?.code, 554);
  // Outside RCPT (no recipient) it says nothing.
  const dflt = testConfig({ ...base, mxguard_greylist_action: 'defer', mxguard_greylist_text: '4.7.1 wait %s seconds for %r', smtpd_recipient_restrictions: 'check_greylist, reject' });
  const x = await evaluateRcpt(rcptContext(dflt, 'bob@example.test'));
  assert.equal(x.reply && replyLine(x.reply), '450 4.7.1 <bob@example.test>: Recipient address rejected: wait 300 seconds for example.test');
});

test('mxguard_greylist_only_if = no_fcrdns skips clients with a verified name', async (t) => {
  useGreylistStore(new MemoryStore());
  t.after(() => useGreylistStore(undefined));
  const cfg = testConfig({ ...base, smtpd_recipient_restrictions: 'check_greylist', mxguard_greylist_only_if: 'no_fcrdns' });
  const named = await evaluateRcpt(rcptContext(cfg, 'a@example.test', { client: { address: '192.0.2.1', port: 1, name: 'mx.remote.test', reverseName: 'mx.remote.test', nameStatus: 'ok' } }));
  assert.equal(named.action, 'accept');
  const unknown = await evaluateRcpt(rcptContext(cfg, 'a@example.test'));
  assert.equal(unknown.reply?.code, 450);
  const bad = testConfig({ ...base, smtpd_recipient_restrictions: 'check_greylist', mxguard_greylist_only_if: 'sometimes' });
  assert.equal((await evaluateRcpt(rcptContext(bad, 'a@example.test'))).reply?.code, 451);
});

test('state store down: open lets mail through, tempfail answers 451 4.3.0', async (t) => {
  const down = new Proxy({}, { get: () => async () => { throw new StoreUnavailableError('redis://x', 'connection refused'); } }) as StateStore;
  useGreylistStore(down);
  t.after(() => useGreylistStore(undefined));
  const open = await evaluateRcpt(rcptContext(testConfig({ ...base, smtpd_recipient_restrictions: 'check_greylist' }), 'a@example.test'));
  assert.equal(open.action, 'accept');
  assert.match(open.events[0]!.text, /state store unavailable/);
  const temp = await evaluateRcpt(rcptContext(testConfig({ ...base, smtpd_recipient_restrictions: 'check_greylist', mxguard_state_store_failure: 'tempfail' }), 'a@example.test'));
  assert.equal(temp.reply && replyLine(temp.reply), '451 4.3.0 <a@example.test>: Recipient address rejected: Temporary lookup failure');
});
