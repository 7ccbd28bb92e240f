/**
 * access(5) lookups and actions, and the result algebra around them (warn_if_reject,
 * defer_if_permit, defer_if_reject, DISCARD, restriction classes), through the evaluator.
 * Replies are Postfix 3.7's (the differential suite compares them with a real Postfix).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateRcpt, evaluateStage } from '../../src/engine/index.js';
import type { Decision } from '../../src/engine/types.js';
import { replyLine } from '../../src/smtp/reply.js';
import { rcptContext, testConfig } from './config-helper.js';

const said = (d: Decision) => (d.reply ? replyLine(d.reply) : d.action);

function tables(t: { after(f: () => void): void }, files: Record<string, string>): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-access-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return (name) => join(dir, name);
}

const base = { mydestination: 'example.test', smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination', smtpd_reject_unlisted_recipient: 'no' };

test('client key search: name, parent domains, then address and its networks', async (t) => {
  const f = tables(t, { access: ['bad.example.org REJECT', '10.1 REJECT net ten-one', 'unknown 550 no name', 'good.test OK'].join('\n') });
  const cfg = testConfig({ ...base, smtpd_recipient_restrictions: `check_client_access hash:${f('access')}` });
  const c = (name: string, address: string) => rcptContext(cfg, 'u@example.test', { client: { name, address, port: 1, reverseName: name } });
  assert.equal(said(await evaluateRcpt(c('host.bad.example.org', '192.0.2.1'))), '554 5.7.1 <host.bad.example.org[192.0.2.1]>: Client host rejected: Access denied');
  assert.equal(said(await evaluateRcpt(c('x.test', '10.1.2.3'))), '554 5.7.1 <x.test[10.1.2.3]>: Client host rejected: net ten-one');
  assert.equal(said(await evaluateRcpt(c('unknown', '192.0.2.7'))), '550 5.7.1 <unknown[192.0.2.7]>: Client host rejected: no name');
  assert.equal(said(await evaluateRcpt(c('mx.good.test', '10.1.2.3'))), 'accept', 'the name is searched before the address');
});

test('dot-style parents when smtpd_access_maps is not in parent_domain_matches_subdomains', async (t) => {
  const f = tables(t, { access: ['example.org REJECT exact', '.example.org REJECT sub'].join('\n') });
  const cfg = testConfig({ ...base, parent_domain_matches_subdomains: '', smtpd_recipient_restrictions: `check_sender_access hash:${f('access')}` });
  assert.equal(said(await evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender: 'a@mail.example.org' }))), '554 5.7.1 <a@mail.example.org>: Sender address rejected: sub');
  assert.equal(said(await evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender: 'a@example.org' }))), '554 5.7.1 <a@example.org>: Sender address rejected: exact');
});

test('mail address keys: user@, domain, DUNNO stops the search, null sender key', async (t) => {
  const f = tables(t, { access: ['spam.test REJECT', 'ok@spam.test DUNNO', 'postmaster@ 550 5.1.1 no postmasters', '<> REJECT no bounces here'].join('\n') });
  const cfg = testConfig({ ...base, smtpd_recipient_restrictions: `check_sender_access hash:${f('access')}` });
  const s = (sender: string) => evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender }));
  assert.equal(said(await s('x@spam.test')), '554 5.7.1 <x@spam.test>: Sender address rejected: Access denied');
  assert.equal(said(await s('ok@spam.test')), 'accept');
  // smtpd_dsn_fix(): 5.1.1 is a recipient status; for a sender it becomes 5.1.7.
  assert.equal(said(await s('postmaster@elsewhere.test')), '550 5.1.7 <postmaster@elsewhere.test>: Sender address rejected: no postmasters');
  assert.equal(said(await s('')), '554 5.7.1 <>: Sender address rejected: no bounces here');
});

test('pattern tables see only the full key', async (t) => {
  const f = tables(t, { re: '/^spam\\.test$/ REJECT domain key\n/@spam\\.test$/ REJECT full key\n' });
  const cfg = testConfig({ ...base, smtpd_recipient_restrictions: `check_sender_access regexp:${f('re')}` });
  assert.equal(said(await evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender: 'a@spam.test' }))), '554 5.7.1 <a@spam.test>: Sender address rejected: full key');
});

test('actions: restriction lists and classes as values, WARN, HOLD, DISCARD, 4NN', async (t) => {
  const f = tables(t, { access: ['a@x.test permit_mynetworks, reject', 'b@x.test strict', 'c@x.test WARN looked at', 'd@x.test HOLD', 'e@x.test DISCARD', 'f@x.test 421 go away', 'g@x.test 12345', 'h@x.test hash:/etc/x'].join('\n') });
  const cfg = testConfig({ ...base, smtpd_restriction_classes: 'strict', strict: 'reject_non_fqdn_sender, defer', smtpd_recipient_restrictions: `check_sender_access hash:${f('access')}, permit` });
  const s = (sender: string) => evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender }));
  assert.equal(said(await s('a@x.test')), '554 5.7.1 <a@x.test>: Sender address rejected: Access denied', 'a nested "reject" speaks for the sender');
  assert.equal(said(await s('b@x.test')), '450 4.3.2 <b@x.test>: Sender address rejected: Try again later');
  const warn = await s('c@x.test');
  assert.equal(said(warn), 'accept');
  assert.deepEqual(warn.events, [{ action: 'warn', text: 'looked at' }]);
  const hold = await s('d@x.test');
  assert.equal(hold.actions.hold, true);
  assert.deepEqual(hold.events, [{ action: 'hold', text: '<d@x.test>: Sender address triggers HOLD action' }]);
  const discard = await s('e@x.test');
  assert.equal(discard.action, 'discard');
  assert.equal(said(await s('f@x.test')), '421 4.7.1 <f@x.test>: Sender address rejected: go away');
  assert.equal(said(await s('g@x.test')), 'accept');
  assert.equal(said(await s('h@x.test')), '451 4.3.5 Server configuration error');
});

test('warn_if_reject applies to the next restriction only, nested lists included', async () => {
  const cfg = testConfig({ ...base, smtpd_restriction_classes: 'twice', twice: 'reject_non_fqdn_sender, reject', smtpd_recipient_restrictions: 'warn_if_reject, twice, reject_non_fqdn_sender' });
  const d = await evaluateRcpt(rcptContext(cfg, 'u@example.test', { sender: 'nodomain@localhost' }));
  assert.equal(said(d), '504 5.5.2 <nodomain@localhost>: Sender address rejected: need fully-qualified address');
  assert.deepEqual(d.events.map((e) => e.action), ['reject_warning', 'reject_warning']);
});

test('defer_if_permit is sent when nothing rejects; defer_if_reject softens a later reject', async () => {
  const c1 = testConfig({ ...base, smtpd_client_restrictions: 'defer_if_permit', smtpd_recipient_restrictions: 'permit' });
  assert.equal(said(await evaluateRcpt(rcptContext(c1, 'u@example.test'))), '450 4.7.0 <unknown[127.0.0.9]>: Client host rejected: defer_if_permit requested');
  const c2 = testConfig({ ...base, smtpd_client_restrictions: 'defer_if_permit', smtpd_recipient_restrictions: 'reject' });
  assert.equal(said(await evaluateRcpt(rcptContext(c2, 'u@example.test'))), '554 5.7.1 <u@example.test>: Recipient address rejected: Access denied');
  const c3 = testConfig({ ...base, smtpd_recipient_restrictions: 'defer_if_reject, reject' });
  assert.equal(said(await evaluateRcpt(rcptContext(c3, 'u@example.test'))), '450 4.7.0 <u@example.test>: Recipient address rejected: defer_if_reject requested');
});

test('smtpd_delay_reject = no carries a client DEFER_IF_PERMIT to RCPT', async () => {
  const cfg = testConfig({ ...base, smtpd_delay_reject: 'no', smtpd_client_restrictions: 'defer_if_permit' });
  const ctx = rcptContext(cfg, 'u@example.test');
  const connect = await evaluateStage('connect', { ...ctx, stage: 'connect' });
  assert.equal(connect.action, 'accept');
  assert.ok(connect.deferIfPermit);
  const rcpt = await evaluateRcpt({ ...ctx, deferIfPermit: connect.deferIfPermit });
  assert.equal(said(rcpt), '450 4.7.0 <unknown[127.0.0.9]>: Client host rejected: defer_if_permit requested');
});

test('compatibility_level keeps the defaults an old main.cf was written for', async () => {
  const old = testConfig({ compatibility_level: '0', mydestination: 'example.test', smtpd_recipient_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  assert.equal(old.get('relay_domains'), 'example.test');
  assert.equal(old.get('smtpd_relay_restrictions'), '');
  assert.equal(old.bool('smtpd_relay_before_recipient_restrictions'), false);
  const level2 = testConfig({ compatibility_level: '2' });
  assert.equal(level2.get('relay_domains'), '');
  assert.equal(level2.bool('smtpd_relay_before_recipient_restrictions'), false);
  assert.notEqual(level2.get('smtpd_relay_restrictions'), '');
  const current = testConfig({ compatibility_level: '3.6' });
  assert.equal(current.bool('smtpd_relay_before_recipient_restrictions'), true);
  // An explicit setting always wins.
  assert.equal(testConfig({ compatibility_level: '0', relay_domains: 'r.test' }).get('relay_domains'), 'r.test');
  // At level 0 an outsider to example.test is refused by the recipient list (the relay list is empty).
  const d = await evaluateRcpt(rcptContext(old, 'u@remote.test'));
  assert.equal(said(d), '554 5.7.1 <u@remote.test>: Relay access denied');
});
