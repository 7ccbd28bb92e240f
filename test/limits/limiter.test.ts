/**
 * The rate-limit logic on a MemoryStore with an explicit clock: the $mxguard_rate_limits rule
 * syntax, anvil's fixed windows with smtpd.c's replies and warnings, sliding and fixed rule
 * windows, refused events not counted, and keys that do not apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/types.js';
import { anvilCheck, applyRules, keyValue, type LimitSubject } from '../../src/limits/limiter.js';
import { parseRule, parseRules } from '../../src/limits/rules.js';
import { replyLine } from '../../src/smtp/reply.js';
import { MemoryStore } from '../../src/state/memory.js';

function config(settings: Record<string, string>): Config {
  return new Config(new Map(Object.entries({ myhostname: 'mx.example.test', ...settings }).map(([k, v]) => [k, { value: v, file: 'main.cf', line: 1 }])), new Map());
}

function clock(start = 1_000_000) {
  const c = { now: start, advance(ms: number) { c.now += ms; } };
  return c;
}

const subject = (o: Partial<LimitSubject> = {}): LimitSubject => ({ service: 'smtp', address: '192.0.2.1', clientLog: 'unknown[192.0.2.1]', ...o });

test('rule syntax: keys, metrics, windows, options; errors name the rule', () => {
  const r = parseRule(['sasl_username', 'messages', '100/1h', '500/1d', 'action=reject', 'window=fixed']);
  assert.deepEqual([r.key, r.metric, r.action, r.window], ['sasl_username', 'messages', 'reject', 'fixed']);
  assert.deepEqual(r.windows.map((w) => [w.limit, w.seconds]), [[100, 3600], [500, 86400]]);
  const d = parseRule(['client_address', 'recipients', '10/30']);
  assert.deepEqual([d.action, d.window, d.windows[0]!.seconds], ['defer', 'sliding', 30]);
  // Several rules in one value: commas, braces, or a new KEY word.
  const many = parseRules(['sasl_username', 'messages', '100/1h', 'sender_domain', 'bytes', '10000000/1d', '{ client_address auth_failures 5/10m }']);
  assert.deepEqual(many.map((x) => `${x.key} ${x.metric}`), ['sasl_username messages', 'sender_domain bytes', 'client_address auth_failures']);
  assert.throws(() => parseRule(['user', 'messages', '1/1h']), (e: Error) => e instanceof ConfigError && /unknown key "user"/.test(e.message));
  assert.throws(() => parseRule(['sasl_username', 'mails', '1/1h']), /unknown metric "mails"/);
  assert.throws(() => parseRule(['sasl_username', 'messages']), /no LIMIT\/WINDOW/);
  assert.throws(() => parseRule(['sasl_username', 'messages', '1/1y']), /unknown word "1\/1y"/);
  assert.throws(() => parseRule(['sasl_username', 'connections', '1/1h']), /only be counted per client_address/);
});

test('key values: sender domain lower-cased, the null sender and a missing login match no rule', () => {
  assert.equal(keyValue('sender_domain', subject({ sender: 'Bob@Example.COM' })), 'example.com');
  assert.equal(keyValue('sender_address', subject({ sender: 'Bob@Example.COM' })), 'bob@example.com');
  assert.equal(keyValue('sender_address', subject({ sender: '' })), undefined);
  assert.equal(keyValue('sender_domain', subject({ sender: 'local' })), undefined);
  assert.equal(keyValue('sasl_username', subject()), undefined);
});

test('anvil: fixed window of anvil_rate_time_unit, every request counts, smtpd.c replies and warnings', async () => {
  const c = clock();
  const store = new MemoryStore(() => c.now);
  const cfg = config({ smtpd_client_message_rate_limit: '2', smtpd_client_connection_rate_limit: '1', smtpd_client_recipient_rate_limit: '1', smtpd_client_auth_rate_limit: '1', anvil_rate_time_unit: '60s' });
  assert.equal(await anvilCheck(store, cfg, 'message', subject()), undefined);
  assert.equal(await anvilCheck(store, cfg, 'message', subject()), undefined);
  const v = await anvilCheck(store, cfg, 'message', subject());
  assert.equal(replyLine(v!.reply), '450 4.7.1 Error: too much mail from 192.0.2.1');
  assert.equal(v!.log, 'Message delivery request rate limit exceeded: 3 from unknown[192.0.2.1] for service smtp');
  // Refused requests count too (anvil increments before smtpd compares).
  assert.match((await anvilCheck(store, cfg, 'message', subject()))!.log, /exceeded: 4 from/);
  c.advance(59_000);
  assert.ok(await anvilCheck(store, cfg, 'message', subject()), 'same time unit');
  c.advance(1_001);
  assert.equal(await anvilCheck(store, cfg, 'message', subject()), undefined, 'a new time unit starts afresh');
  // Other services and addresses have their own counters.
  assert.equal(await anvilCheck(store, cfg, 'message', subject({ service: 'submission' })), undefined);
  await anvilCheck(store, cfg, 'connection', subject());
  assert.equal(replyLine((await anvilCheck(store, cfg, 'connection', subject()))!.reply), '421 4.7.0 mx.example.test Error: too many connections from 192.0.2.1');
  await anvilCheck(store, cfg, 'recipient', subject());
  assert.equal(replyLine((await anvilCheck(store, cfg, 'recipient', subject()))!.reply), '450 4.7.1 Error: too many recipients from 192.0.2.1');
  await anvilCheck(store, cfg, 'auth', subject());
  const a = await anvilCheck(store, cfg, 'auth', subject());
  assert.equal(replyLine(a!.reply), '450 4.7.1 Error: too many AUTH commands from 192.0.2.1');
  assert.match(a!.log, /^AUTH command rate limit exceeded: 2 from/);
  // 0 means no limit.
  assert.equal(await anvilCheck(store, config({}), 'message', subject()), undefined);
});

test('sasl_username hourly and daily sliding windows: the stolen-account case', async () => {
  const c = clock();
  const store = new MemoryStore(() => c.now);
  const cfg = config({ mxguard_rate_limits: 'sasl_username messages 3/1h 5/1d' });
  const bob = subject({ saslUsername: 'bob@example.test', sender: 'bob@example.test' });
  for (let i = 0; i < 3; i++) assert.equal(await applyRules(store, cfg, 'messages', bob, 1, 'take', { now: c.now }), undefined);
  const v = await applyRules(store, cfg, 'messages', bob, 1, 'take', { now: c.now });
  assert.equal(replyLine(v!.reply), '450 4.7.1 Error: too much mail from bob@example.test');
  assert.match(v!.log, /^Rate limit exceeded: 4 messages per 1h \(limit 3\) for sasl_username=bob@example\.test from unknown\[192\.0\.2\.1\] for service smtp; rule "sasl_username messages 3\/1h 5\/1d"$/);
  // Another user, and a client that is not logged in, are not affected.
  assert.equal(await applyRules(store, cfg, 'messages', subject({ saslUsername: 'carol' }), 1, 'take', { now: c.now }), undefined);
  assert.equal(await applyRules(store, cfg, 'messages', subject(), 1, 'take', { now: c.now }), undefined);
  // Sliding: refused attempts were not counted, so one hour after the first three the hour is free again…
  c.advance(3600_000 + 1);
  assert.equal(await applyRules(store, cfg, 'messages', bob, 1, 'take', { now: c.now }), undefined);
  assert.equal(await applyRules(store, cfg, 'messages', bob, 1, 'take', { now: c.now }), undefined);
  // …but the day is full at 5.
  const day = await applyRules(store, cfg, 'messages', bob, 1, 'take', { now: c.now });
  assert.match(day!.log, /6 messages per 1d \(limit 5\)/);
});

test('action=reject, fixed windows, bytes checked at MAIL and recorded after the message, auth failures', async () => {
  const c = clock();
  const store = new MemoryStore(() => c.now);
  const cfg = config({ mxguard_rate_limits: 'sender_domain bytes 1000/1h action=reject window=fixed, client_address auth_failures 2/10m, client_address recipients 2/1m' });
  const s = subject({ sender: 'x@Example.Test' });
  assert.equal(await applyRules(store, cfg, 'bytes', s, 600, 'check', { now: c.now }), undefined, 'SIZE=600 fits');
  await applyRules(store, cfg, 'bytes', s, 600, 'record', { now: c.now });
  const big = await applyRules(store, cfg, 'bytes', s, 500, 'check', { now: c.now });
  assert.equal(replyLine(big!.reply), '550 5.7.1 Error: too many message bytes from example.test');
  assert.equal(await applyRules(store, cfg, 'bytes', s, 0, 'check', { now: c.now }), undefined, 'without SIZE: not yet spent');
  await applyRules(store, cfg, 'bytes', s, 400, 'record', { now: c.now });
  assert.ok(await applyRules(store, cfg, 'bytes', s, 0, 'check', { now: c.now }), 'spent');
  c.advance(3600_000);
  assert.equal(await applyRules(store, cfg, 'bytes', s, 0, 'check', { now: c.now }), undefined, 'the fixed window ended');
  // Failed AUTH: recorded after each failure, refused before the next AUTH once the limit is reached.
  await applyRules(store, cfg, 'auth_failures', s, 1, 'record', { now: c.now });
  assert.equal(await applyRules(store, cfg, 'auth_failures', s, 0, 'check', { now: c.now }), undefined);
  await applyRules(store, cfg, 'auth_failures', s, 1, 'record', { now: c.now });
  assert.equal(replyLine((await applyRules(store, cfg, 'auth_failures', s, 0, 'check', { now: c.now }))!.reply), '450 4.7.1 Error: too many failed AUTH attempts from 192.0.2.1');
  // An exempt client ($smtpd_client_event_limit_exceptions) skips client_address rules only.
  assert.equal(await applyRules(store, cfg, 'auth_failures', s, 0, 'check', { now: c.now, exemptClient: true }), undefined);
  await applyRules(store, cfg, 'recipients', s, 1, 'take', { now: c.now });
  await applyRules(store, cfg, 'recipients', s, 1, 'take', { now: c.now });
  assert.ok(await applyRules(store, cfg, 'recipients', s, 1, 'take', { now: c.now }));
  c.advance(60_001);
  assert.equal(await applyRules(store, cfg, 'recipients', s, 1, 'take', { now: c.now }), undefined);
});
