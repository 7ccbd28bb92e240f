/**
 * Transport names to agents, and the agents that deliver nowhere: discard, error, retry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentFor } from '../../src/delivery/index.js';
import { maildirAgent } from '../../src/delivery/maildir.js';
import { discardAgent } from '../../src/delivery/discard.js';
import { errorAgent, retryAgent } from '../../src/delivery/error.js';
import { testConfig, testRequest } from './config-helper.js';

const signal = () => new AbortController().signal;

test('agentFor: Postfix transport names, master.cf commands, unknown names', () => {
  assert.equal(agentFor('virtual'), maildirAgent);
  assert.equal(agentFor('discard'), discardAgent);
  assert.equal(agentFor('error'), errorAgent);
  assert.equal(agentFor('retry'), retryAgent);
  assert.ok(agentFor('smtp'));
  assert.equal(agentFor('relay'), agentFor('smtp'));
  assert.ok(agentFor('lmtp'));
  assert.notEqual(agentFor('lmtp'), agentFor('smtp'));
  assert.equal(agentFor('slow', 'smtp'), agentFor('smtp'));
  assert.equal(agentFor('local'), undefined);
  assert.equal(agentFor('toString'), undefined);
  assert.equal(agentFor('pipe', 'pipe'), undefined);
});

test('discard: every recipient sent, relay=none, the nexthop as text', async () => {
  const cfg = testConfig();
  const res = await discardAgent.deliver(testRequest(cfg, { transport: 'discard', nexthop: '', recipients: ['a@x.test', 'b@x.test'] }), signal());
  assert.deepEqual(res, [
    { address: 'a@x.test', status: 'sent', dsn: '2.0.0', relay: 'none', text: 'discarded' },
    { address: 'b@x.test', status: 'sent', dsn: '2.0.0', relay: 'none', text: 'discarded' },
  ]);
  const [r] = await discardAgent.deliver(testRequest(cfg, { transport: 'discard', nexthop: 'spam trap', recipients: ['a@x.test'] }), signal());
  assert.equal(r!.text, 'spam trap');
});

test('error: bounces with the nexthop text and 5.0.0, or the code the text starts with', async () => {
  const cfg = testConfig();
  const [a] = await errorAgent.deliver(testRequest(cfg, { transport: 'error', nexthop: 'this domain is closed', recipients: ['a@x.test'] }), signal());
  assert.deepEqual(a, { address: 'a@x.test', status: 'bounced', dsn: '5.0.0', relay: 'none', text: 'this domain is closed' });
  const [b] = await errorAgent.deliver(testRequest(cfg, { transport: 'error', nexthop: '5.1.2 no such domain here', recipients: ['a@x.test'] }), signal());
  assert.deepEqual([b!.dsn, b!.text], ['5.1.2', 'no such domain here']);
  // A 4.x.x code does not turn a bounce into a deferral: the transport decides the class.
  const [c] = await errorAgent.deliver(testRequest(cfg, { transport: 'error', nexthop: '4.1.2 odd', recipients: ['a@x.test'] }), signal());
  assert.deepEqual([c!.status, c!.dsn, c!.text], ['bounced', '5.0.0', '4.1.2 odd']);
  const [d] = await retryAgent.deliver(testRequest(cfg, { transport: 'retry', nexthop: 'maintenance until 18:00', recipients: ['a@x.test'] }), signal());
  assert.deepEqual([d!.status, d!.dsn, d!.text], ['deferred', '4.0.0', 'maintenance until 18:00']);
});
