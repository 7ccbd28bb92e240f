/**
 * The greylisting key, the allow list formats and the decision sequence, against postgrey
 * 1.37's behaviour (docs/greylisting.md); times are given explicitly, no waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientNetwork, normaliseSender, tripletKey } from '../../src/greylist/triplet.js';
import { clientAllowed, parseClientAllowlist, parseRecipientAllowlist, recipientAllowed } from '../../src/greylist/allowlist.js';
import { greylistDecide, greylistLogLine, greylistText, type GreylistSettings } from '../../src/greylist/greylist.js';
import { MemoryStore } from '../../src/state/memory.js';

test('client network: /24 and /64 by default, full address at /32', () => {
  assert.equal(clientNetwork('192.0.2.77'), '192.0.2.0');
  assert.equal(clientNetwork('192.0.2.77', 32), '192.0.2.77');
  assert.equal(clientNetwork('198.51.100.200', 16), '198.51.0.0');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 24, 48), '2001:db8:1::');
  assert.equal(clientNetwork('::ffff:192.0.2.9'), '192.0.2.0');
});

test('sender normalisation: BATV, +extension, standalone numbers', () => {
  assert.equal(normaliseSender('alice+news-123@example.net'), 'alice@example.net');
  assert.equal(normaliseSender('bounce-123-456@lists.example'), 'bounce-#-#@lists.example');
  assert.equal(normaliseSender('user2@example.net'), 'user2@example.net');
  assert.equal(normaliseSender('prvs=1234abcdef=alice@example.net'), 'alice@example.net');
  assert.equal(normaliseSender('prvs=alice=1234abcdef@example.net'), 'alice@example.net');
  assert.equal(normaliseSender(''), '');
  // postgrey's observed case: both share one triplet.
  assert.equal(tripletKey('192.0.2.10', 'alice+news-123@example.net', 'bob@example.org'), tripletKey('192.0.2.77', 'alice@example.net', 'bob@example.org'));
  assert.equal(tripletKey('192.0.2.10', 'Alice@Example.NET', 'Bob@example.org'), '192.0.2.0/alice@example.net/bob@example.org');
});

test('client allow list: regex, domain, IPv4 networks, IPv6', () => {
  const bad: string[] = [];
  const l = parseClientAllowlist([
    '# comment', '', '/^mail\\d+\\.example\\.com$/', 'example.org', '10.1.2', '172.16.0.0/12', '192.0.2.5', '2001:db8::/32', 'bad entry', '300.1.1.1/40',
  ].join('\n'), (line, why) => bad.push(`${line}: ${why}`));
  assert.equal(bad.length, 2, bad.join('; '));
  assert.ok(clientAllowed(l, '203.0.113.1', 'mail12.example.com'));
  assert.ok(clientAllowed(l, '203.0.113.1', 'mx.sub.example.org'));
  assert.ok(clientAllowed(l, '203.0.113.1', 'example.org'));
  assert.equal(clientAllowed(l, '203.0.113.1', 'badexample.org'), undefined);
  assert.ok(clientAllowed(l, '10.1.2.99', 'unknown'));
  assert.ok(clientAllowed(l, '172.20.1.1', 'unknown'));
  assert.ok(clientAllowed(l, '192.0.2.5', 'unknown'));
  assert.equal(clientAllowed(l, '192.0.2.6', 'unknown'), undefined);
  assert.ok(clientAllowed(l, '2001:db8:5::1', 'unknown'));
  // An unverified name never matches a name pattern.
  assert.equal(clientAllowed(parseClientAllowlist('unknown\n/.*/\n'), '203.0.113.1', 'unknown'), undefined);
});

test('recipient allow list: user@domain, user@, domain, regex', () => {
  const l = parseRecipientAllowlist(['postmaster@', 'abuse@example.org', 'example.net', '/^list-/'].join('\n'));
  assert.ok(recipientAllowed(l, 'postmaster@anything.test'));
  assert.ok(recipientAllowed(l, 'Postmaster+x@anything.test'));
  assert.ok(recipientAllowed(l, 'abuse+tag@example.org'));
  assert.equal(recipientAllowed(l, 'abuse@example.com'), undefined);
  assert.ok(recipientAllowed(l, 'bob@example.net'));
  assert.ok(recipientAllowed(l, 'bob@mx.example.net'));
  assert.equal(recipientAllowed(l, 'bob@notexample.net'), undefined);
  assert.ok(recipientAllowed(l, 'list-users@example.com'));
});

const settings = (over: Partial<GreylistSettings> = {}): GreylistSettings => ({
  delay: 300, maxAge: 35 * 86400, retryWindow: 2 * 86400, awlClients: 2, v4Prefix: 24, v6Prefix: 64,
  text: 'Greylisted, see http://postgrey.schweikert.ch/help/%r.html', clients: parseClientAllowlist(''), recipients: parseRecipientAllowlist(''),
  warnings: [], ...over,
});

test('decision sequence: new, early retry, pass with delay, pass, retry window', async () => {
  const store = new MemoryStore();
  const s = settings({ awlClients: 0 });
  const req = { clientAddress: '192.0.2.10', clientName: 'mx.example.net', sender: 'alice@example.net', recipient: 'bob@example.org' };
  const t0 = 1_000_000;
  const v1 = await greylistDecide(store, s, req, t0);
  assert.deepEqual(v1, { action: 'greylist', reason: 'new', secondsLeft: 300, text: 'Greylisted, see http://postgrey.schweikert.ch/help/example.org.html' });
  assert.equal(greylistLogLine(v1, req), 'action=greylist, reason=new, client_name=mx.example.net, client_address=192.0.2.10, sender=alice@example.net, recipient=bob@example.org');
  const v2 = await greylistDecide(store, s, req, t0 + 100);
  assert.equal(v2.action === 'greylist' && v2.reason, 'early-retry (200s missing)');
  const v3 = await greylistDecide(store, s, { ...req, clientAddress: '192.0.2.11' }, t0 + 301);
  assert.deepEqual(v3, { action: 'pass', reason: 'triplet found', delay: 301, allowlisted: false });
  assert.match(greylistLogLine(v3, req), /^action=pass, reason=triplet found, delay=301, client_name=/);
  assert.deepEqual(await greylistDecide(store, s, req, t0 + 400), { action: 'pass', reason: 'triplet found' });
  // A first retry after the retry window starts over.
  const other = { ...req, recipient: 'carol@example.org' };
  await greylistDecide(store, s, other, t0);
  const late = await greylistDecide(store, s, other, t0 + 3 * 86400);
  assert.equal(late.action, 'greylist');
  assert.equal(greylistText('%s seconds (%r)', 42, 'x@dom.test'), '42 seconds (dom.test)');
});

test('auto-allowlisting after N successful retries, at most one per hour', async () => {
  const store = new MemoryStore();
  const s = settings({ awlClients: 2, delay: 10 });
  const base = { clientAddress: '198.51.100.5', clientName: 'unknown', sender: 'a@example.com' };
  let t = 5_000_000;
  const round = async (rcpt: string) => {
    await greylistDecide(store, s, { ...base, recipient: rcpt }, t);
    return greylistDecide(store, s, { ...base, recipient: rcpt }, t + 11);
  };
  assert.deepEqual(await round('r1@example.org'), { action: 'pass', reason: 'triplet found', delay: 11, allowlisted: false });
  // A second success within the hour does not count.
  t += 60;
  await round('r2@example.org');
  assert.equal((await greylistDecide(store, s, { ...base, recipient: 'new1@example.org' }, t + 20)).action, 'greylist');
  t += 3700;
  const v = await round('r3@example.org');
  assert.ok(v.action === 'pass' && v.allowlisted, JSON.stringify(v));
  assert.deepEqual(await greylistDecide(store, s, { ...base, recipient: 'new2@example.org' }, t + 30), { action: 'pass', reason: 'client AWL' });
  // Another address of the same network is not allow-listed.
  assert.equal((await greylistDecide(store, s, { ...base, clientAddress: '198.51.100.6', recipient: 'new3@example.org' }, t + 30)).action, 'greylist');
});

test('allow lists pass before the triplet is looked at', async () => {
  const store = new MemoryStore();
  const s = settings({ clients: parseClientAllowlist('example.com\n'), recipients: parseRecipientAllowlist('postmaster@\n') });
  assert.deepEqual(await greylistDecide(store, s, { clientAddress: '203.0.113.1', clientName: 'mx.example.com', sender: '', recipient: 'x@example.org' }, 1), { action: 'pass', reason: 'client whitelist' });
  assert.deepEqual(await greylistDecide(store, s, { clientAddress: '203.0.113.1', clientName: 'unknown', sender: '', recipient: 'postmaster@example.org' }, 1), { action: 'pass', reason: 'recipient whitelist' });
  assert.equal((await store.scan('grey:')).length, 0);
});
