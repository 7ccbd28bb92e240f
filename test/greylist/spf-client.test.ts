/**
 * mxguard_greylist_spf_client: with SPF passing, the sender's SPF domain stands for the client,
 * so a sender that retries from another of its authorised addresses (another network) is not
 * greylisted again; without SPF the client network decides, as in postgrey.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRcpt } from '../../src/engine/index.js';
import type { Decision, TransactionContext } from '../../src/engine/types.js';
import { replyLine } from '../../src/smtp/reply.js';
import { rcptContext, testConfig } from '../engine/config-helper.js';

const said = (d: Decision) => (d.reply ? replyLine(d.reply).slice(0, 9) : d.action);

test('an SPF-authorised sender moving between networks is greylisted once', async () => {
  const cfg = testConfig({
    mydestination: 'example.test', mxguard_state_store: 'memory:', smtpd_relay_restrictions: '',
    smtpd_recipient_restrictions: 'check_greylist', mxguard_greylist_delay: '1s', mxguard_greylist_action: 'defer',
  });
  const from = (address: string, spf?: TransactionContext['spf']) => rcptContext(cfg, 'alice@example.test', {
    client: { address, port: 1, name: 'mta.sender.test', reverseName: 'mta.sender.test' }, sender: 'news@spf.sender.test', ...(spf ? { spf } : {}),
  });
  const pass = { result: 'pass', domain: 'spf.sender.test' };
  assert.equal(said(await evaluateRcpt(from('192.0.2.10', pass))), '450 4.2.0');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(said(await evaluateRcpt(from('198.51.100.20', pass))), 'accept', 'another authorised network: the same triplet');
  // Without an SPF pass the network is the client, as in postgrey: a new network is new.
  assert.equal(said(await evaluateRcpt(from('203.0.113.30', { result: 'softfail', domain: 'spf.sender.test' }))), '450 4.2.0');
  const off = testConfig({ ...Object.fromEntries(cfg.explicitNames().map((n) => [n, cfg.raw(n)!])), mxguard_greylist_spf_client: 'no' });
  const d = await evaluateRcpt(rcptContext(off, 'bob@example.test', { client: { address: '192.0.2.11', port: 1, name: 'x', reverseName: 'x' }, sender: 'news@spf.sender.test', spf: pass }));
  assert.equal(said(d), '450 4.2.0');
});
