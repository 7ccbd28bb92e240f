import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRelaySafety, evaluateList, evaluateRcpt, evaluateStage } from '../../src/engine/index.js';
import type { Decision } from '../../src/engine/types.js';
import { parseRcptTo } from '../../src/smtp/address.js';
import { replyLine } from '../../src/smtp/reply.js';
import { rcptContext, SITE, testConfig } from './config-helper.js';

/** The reply line of a decision, or "accept"/"discard". */
const said = (d: Decision) => (d.reply ? replyLine(d.reply) : d.action);
/** restriction=outcome for each trace step. */
const steps = (d: Decision) => d.trace.map((s) => `${s.list}:${s.restriction}=${s.outcome.kind}`);
/** The note of the last trace step. */
const lastNote = (d: Decision) => d.trace[d.trace.length - 1]?.outcome.note ?? '';

/** Parses like the session, then decides: a syntax reject or the engine's decision. */
async function probe(settings: Record<string, string>, arg: string, over: Parameters<typeof rcptContext>[2] = {}): Promise<string> {
  const parsed = parseRcptTo(arg, { smtputf8: false, strict: false });
  if (!parsed.ok) return replyLine(parsed.reply);
  return said(await evaluateRcpt(rcptContext(testConfig(settings), parsed.address, over)));
}

// Sender-specified routing and other tricks an open-relay probe tries, from an outsider
// (127.0.0.9, not in mynetworks = 127.0.0.1/32), to a site whose mydestination is example.test.
const RELAY_PROBES: readonly [arg: string, expected: string][] = [
  ['<user%remote.test@example.test>', '<user%remote.test@example.test>: Relay access denied'],  // percent hack
  ['<remote.test!user@example.test>', '<remote.test!user@example.test>: Relay access denied'],  // bang path
  ['<"user@remote.test"@example.test>', '<"user@remote.test"@example.test>: Relay access denied'], // quoted @
  ['<@example.test:user@remote.test>', '<user@remote.test>: Relay access denied'],              // source route
  ['<user@remote.test@example.test>', '<user@remote.test@example.test>: Relay access denied'],  // two @: a route
  ['<user@[192.0.2.1]>', '<user@[192.0.2.1]>: Relay access denied'],                            // foreign literal
  ['<user@remote.test.>', '<user@remote.test.>: Relay access denied'],                          // trailing dot
  ['<user@example.test@>', '501 5.1.3 Bad recipient address syntax'],                           // trailing @: syntax
  ['<user@remote.test>', '<user@remote.test>: Relay access denied'],                            // plain relay attempt
  ['<"user%remote.test"@example.test>', '<user%remote.test@example.test>: Relay access denied'],  // needless quotes dropped
  ['<"user@remote.test"@remote.test>', '<"user@remote.test"@remote.test>: Relay access denied'],  // quoted @, remote domain
  ['<user@sub.example.test>', '<user@sub.example.test>: Relay access denied'],                  // subdomain of local
  ['<user@localhost>', '<user@localhost>: Relay access denied'],                                // not in mydestination here
];

test('relay battery: an outsider relays nothing (default smtpd_relay_restrictions: 454 4.7.1)', async () => {
  for (const [arg, expected] of RELAY_PROBES) {
    const got = await probe(SITE, arg);
    assert.equal(got, expected.startsWith('501') ? expected : `454 4.7.1 ${expected}`, arg);
  }
});

test('relay battery: with reject_unauth_destination the answer is 554 5.7.1', async () => {
  const cfg = { ...SITE, smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination' };
  for (const [arg, expected] of RELAY_PROBES) {
    const got = await probe(cfg, arg);
    assert.equal(got, expected.startsWith('501') ? expected : `554 5.7.1 ${expected}`, arg);
  }
});

test('relay battery: the same probes via smtpd_recipient_restrictions only (pre-2.10 style)', async () => {
  const cfg = { ...SITE, smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'permit_mynetworks, reject_unauth_destination' };
  for (const [arg, expected] of RELAY_PROBES) {
    const got = await probe(cfg, arg);
    assert.equal(got, expected.startsWith('501') ? expected : `554 5.7.1 ${expected}`, arg);
  }
});

test('relay battery without the parser (addresses as a policy client sends them)', async () => {
  const decide = async (rcpt: string) => said(await evaluateRcpt(rcptContext(testConfig(SITE), rcpt)));
  assert.equal(await decide('user@remote.test@example.test'), '454 4.7.1 <user@remote.test@example.test>: Relay access denied'); // resolves to user@remote.test
  assert.equal(await decide('user%remote.test@example.test@'), '454 4.7.1 <user%remote.test@example.test@>: Relay access denied'); // trailing @, then %
  assert.equal(await decide('"user@remote.test"@example.test.'), '454 4.7.1 <"user@remote.test"@example.test.>: Relay access denied'); // dot, quotes
  assert.equal(await decide('user@example.test@'), 'accept');                 // resolves to user@example.test: local, as in Postfix
  assert.equal(await decide('@example.test:user@remote.test'), '454 4.7.1 <@example.test:user@remote.test>: Relay access denied'); // unparsed route: never local
});

test('local recipients are accepted from anyone; trusted clients relay', async () => {
  assert.equal(await probe(SITE, '<user@example.test>'), 'accept');                          // final destination
  assert.equal(await probe(SITE, '<USER@Example.Test>'), 'accept');                          // case-insensitive domain
  assert.equal(await probe(SITE, '<"john doe"@example.test>'), 'accept');                    // quoted local part
  assert.equal(await probe(SITE, '<user@example.test.>'), 'accept');                         // trailing dot
  assert.equal(await probe(SITE, '<postmaster>'), 'accept');                                 // RFC 5321 §4.5.1
  const mine = { client: { address: '127.0.0.1', port: 1, name: 'localhost', reverseName: 'localhost' } };
  assert.equal(await probe(SITE, '<user@remote.test>', mine), 'accept');                     // mynetworks
  assert.equal(await probe(SITE, '<user@remote.test>', { client: { ...mine.client, address: '::ffff:127.0.0.1' } }), 'accept'); // mapped
  assert.equal(await probe(SITE, '<user@remote.test>', { sasl: { method: 'PLAIN', username: 'alice' } }), 'accept'); // SMTP AUTH
  assert.equal(await probe(SITE, '<user@remote.test>', { sasl: { method: 'ANONYMOUS', username: '' } }), '454 4.7.1 <user@remote.test>: Relay access denied');
  assert.equal(await probe({ ...SITE, relay_domains: 'relay.test' }, '<user@relay.test>'), 'accept');          // relay domain
  assert.equal(await probe({ ...SITE, relay_domains: 'relay.test' }, '<user@mx1.relay.test>'), 'accept');      // its subdomain
  assert.equal(await probe({ ...SITE, relay_domains: 'relay.test' }, '<user%remote.test@relay.test>'),
    '454 4.7.1 <user%remote.test@relay.test>: Relay access denied');                                          // routed via relay domain
  assert.equal(await probe({ ...SITE, relay_domains: 'relay.test', allow_untrusted_routing: 'yes' }, '<user%remote.test@relay.test>'), 'accept');
});

test('the trace records every evaluated restriction', async () => {
  const d = await evaluateRcpt(rcptContext(testConfig(SITE), 'user@remote.test'));
  assert.deepEqual(steps(d), [
    'smtpd_relay_restrictions:permit_mynetworks=dunno',
    'smtpd_relay_restrictions:permit_sasl_authenticated=dunno',
    'smtpd_relay_restrictions:defer_unauth_destination=reject',
  ]);
  assert.ok(d.trace.every((s) => s.stage === 'rcpt'));
  assert.match(d.trace[0]!.outcome.note, /127\.0\.0\.9 is not in mynetworks/);
  assert.match(d.trace[2]!.outcome.note, /user@remote\.test \(default\)/);
  const ok = await evaluateRcpt(rcptContext(testConfig(SITE), 'user%remote.test@example.test', { client: { address: '127.0.0.1', port: 1, name: 'unknown', reverseName: 'unknown' } }));
  assert.deepEqual(steps(ok), ['smtpd_relay_restrictions:permit_mynetworks=permit', 'smtpd_reject_unlisted_recipient:reject_unlisted_recipient=dunno']);
  assert.match(ok.trace[0]!.outcome.note, /matches mynetworks pattern 127\.0\.0\.1\/32/);
  const pm = await evaluateRcpt(rcptContext(testConfig(SITE), 'postmaster'));
  assert.deepEqual(pm.trace, []);
  assert.match(pm.note ?? '', /postmaster/);
});

test('a permit ends only its own list; lists run relay first', async () => {
  const cfg = testConfig({ ...SITE, smtpd_relay_restrictions: 'permit', smtpd_recipient_restrictions: 'reject' });
  const d = await evaluateRcpt(rcptContext(cfg, 'user@example.test'));
  assert.equal(said(d), '554 5.7.1 <user@example.test>: Recipient address rejected: Access denied');
  assert.deepEqual(steps(d), ['smtpd_relay_restrictions:permit=permit', 'smtpd_recipient_restrictions:reject=reject']);
  const back = testConfig({ ...SITE, smtpd_relay_before_recipient_restrictions: 'no', smtpd_relay_restrictions: 'reject_unauth_destination', smtpd_recipient_restrictions: 'permit_auth_destination' });
  const b = await evaluateRcpt(rcptContext(back, 'user@example.test'));
  assert.deepEqual(steps(b).slice(0, 2), ['smtpd_recipient_restrictions:permit_auth_destination=permit', 'smtpd_relay_restrictions:reject_unauth_destination=dunno']);
  const rest = testConfig({ ...SITE, smtpd_relay_restrictions: 'reject_unauth_destination, reject' });
  assert.equal(said(await evaluateRcpt(rcptContext(rest, 'user@example.test'))), '554 5.7.1 <user@example.test>: Recipient address rejected: Access denied'); // DUNNO goes on
});

test('reject, defer and their codes; soft_bounce turns 5xx into 4xx', async () => {
  const run = async (s: Record<string, string>, rcpt = 'user@example.test') => said(await evaluateRcpt(rcptContext(testConfig({ ...SITE, ...s }), rcpt)));
  assert.equal(await run({ smtpd_recipient_restrictions: 'defer' }), '450 4.3.2 <user@example.test>: Recipient address rejected: Try again later');
  assert.equal(await run({ smtpd_recipient_restrictions: 'reject', reject_code: '550' }), '550 5.7.1 <user@example.test>: Recipient address rejected: Access denied');
  assert.equal(await run({ smtpd_recipient_restrictions: 'defer', defer_code: '421' }), '421 4.3.2 <user@example.test>: Recipient address rejected: Try again later');
  assert.equal(await run({ smtpd_relay_restrictions: 'reject_unauth_destination', relay_domains_reject_code: '550' }, 'u@remote.test'), '550 5.7.1 <u@remote.test>: Relay access denied');
  assert.equal(await run({ smtpd_relay_restrictions: 'defer_unauth_destination', relay_domains_reject_code: '550' }, 'u@remote.test'), '450 4.7.1 <u@remote.test>: Relay access denied');
  assert.equal(await run({ smtpd_relay_restrictions: 'reject_unauth_destination', soft_bounce: 'yes' }, 'u@remote.test'), '454 4.7.1 <u@remote.test>: Relay access denied');
  assert.equal(await run({ smtpd_recipient_restrictions: 'reject', soft_bounce: 'yes' }), '454 4.7.1 <user@example.test>: Recipient address rejected: Access denied');
  assert.equal(await run({ smtpd_recipient_restrictions: 'defer', soft_bounce: 'yes' }), '450 4.3.2 <user@example.test>: Recipient address rejected: Try again later'); // already 4xx
  const trace = await evaluateRcpt(rcptContext(testConfig({ ...SITE, soft_bounce: 'yes', smtpd_recipient_restrictions: 'reject' }), 'user@example.test'));
  const last = trace.trace[trace.trace.length - 1]!.outcome;
  assert.equal(last.kind === 'reject' && last.reply.code, 454);                      // the trace shows what was sent
});

test('unknown restrictions and missing pieces are 451 4.3.5, never skipped', async () => {
  const run = async (s: Record<string, string>) => evaluateRcpt(rcptContext(testConfig({ ...SITE, ...s }), 'user@example.test'));
  const d = await run({ smtpd_recipient_restrictions: 'permit_mynetworks, reject_bogus_thing, permit' });
  assert.equal(said(d), '451 4.3.5 Server configuration error');
  assert.deepEqual(steps(d).slice(-1), ['smtpd_recipient_restrictions:reject_bogus_thing=error']);
  assert.match(lastNote(d), /unknown smtpd restriction: "reject_bogus_thing"/);
  assert.equal(said(await run({ smtpd_recipient_restrictions: 'REJECT' })), '554 5.7.1 <user@example.test>: Recipient address rejected: Access denied'); // names are case-insensitive
  const bare = await run({ smtpd_recipient_restrictions: 'hash:/etc/postfix/access' });
  assert.equal(said(bare), '451 4.3.5 Server configuration error');                  // bare table: check_recipient_access, not yet
  assert.match(lastNote(bare), /check_recipient_access/);
  const bad = await run({ mynetworks: '1.2.3.4/24', smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  assert.equal(said(bad), '451 4.3.5 Server configuration error');                   // bad mynetworks surfaces here
  assert.match(bad.trace[0]!.outcome.note, /permit_mynetworks: .*non-null host address bits/);
  const soft = await run({ smtpd_recipient_restrictions: 'reject_bogus_thing', soft_bounce: 'yes' });
  assert.equal(said(soft), '451 4.3.5 Server configuration error');                  // not softened further
  const nodef = await evaluateList('data', 'smtpd_data_restrictions', rcptContext(testConfig({ smtpd_data_restrictions: 'hash:/x' }), 'a@example.test', { stage: 'data' }));
  assert.equal(said(nodef), '451 4.3.5 Server configuration error');                 // no default table check in DATA
  assert.match(nodef.trace[0]!.outcome.note, /specify one of/);
});

test('restriction classes (smtpd_restriction_classes)', async () => {
  const cfg = testConfig({ ...SITE, smtpd_restriction_classes: 'trusted_only', trusted_only: 'permit_mynetworks, reject', smtpd_recipient_restrictions: 'trusted_only' });
  const out = await evaluateRcpt(rcptContext(cfg, 'user@example.test'));
  assert.equal(said(out), '554 5.7.1 <user@example.test>: Recipient address rejected: Access denied');
  assert.deepEqual(steps(out).slice(-3), ['trusted_only:permit_mynetworks=dunno', 'trusted_only:reject=reject', 'smtpd_recipient_restrictions:trusted_only=reject']);
  const inside = await evaluateRcpt(rcptContext(cfg, 'user@example.test', { client: { address: '127.0.0.1', port: 1, name: 'unknown', reverseName: 'unknown' } }));
  assert.equal(inside.action, 'accept');
  const undef = testConfig({ ...SITE, smtpd_restriction_classes: 'nothing', smtpd_recipient_restrictions: 'nothing' });
  const u = await evaluateRcpt(rcptContext(undef, 'user@example.test'));
  assert.equal(said(u), '451 4.3.5 Server configuration error');
  assert.match(lastNote(u), /needs a definition/);
  const loop = testConfig({ ...SITE, smtpd_restriction_classes: 'a', a: 'a', smtpd_recipient_restrictions: 'a' });
  assert.equal(said(await evaluateRcpt(rcptContext(loop, 'user@example.test'))), '451 4.3.5 Server configuration error'); // self-reference
});

test('unlisted recipients: local, virtual and relay tables', async () => {
  const run = async (s: Record<string, string>, rcpt: string) => said(await evaluateRcpt(rcptContext(testConfig({ ...SITE, ...s }), rcpt)));
  const local = { local_recipient_maps: 'inline:{ alice=1, carol@example.test=1 }' };
  assert.equal(await run(local, 'alice@example.test'), 'accept');                    // bare local part key
  assert.equal(await run(local, 'Alice@Example.test'), 'accept');                    // lookups are case-insensitive
  assert.equal(await run(local, 'carol@example.test'), 'accept');                    // full address key
  assert.equal(await run(local, 'bob@example.test'), '550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown in local recipient table');
  assert.equal(await run(local, 'postmaster@example.test'), 'accept');               // always accepted
  assert.equal(await run(local, 'MAILER-DAEMON@example.test'), 'accept');
  assert.equal(await run(local, 'double-bounce@example.test'), 'accept');
  assert.equal(await run({ ...local, show_user_unknown_table_name: 'no' }, 'bob@example.test'), '550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown');
  assert.equal(await run({ ...local, unknown_local_recipient_reject_code: '450' }, 'bob@example.test'), '450 4.1.1 <bob@example.test>: Recipient address rejected: User unknown in local recipient table');
  assert.equal(await run({ ...local, smtpd_reject_unlisted_recipient: 'no' }, 'bob@example.test'), 'accept');
  assert.equal(await run({}, 'bob@example.test'), 'accept');                         // empty local_recipient_maps
  assert.equal(await run({ ...local, soft_bounce: 'yes' }, 'bob@example.test'), '450 4.1.1 <bob@example.test>: Recipient address rejected: User unknown in local recipient table');

  const virt = { virtual_mailbox_domains: 'mailbox.test', virtual_mailbox_maps: 'inline:{ alice@mailbox.test=alice/ }' };
  assert.equal(await run(virt, 'alice@mailbox.test'), 'accept');
  assert.equal(await run(virt, 'alice@MAILBOX.test'), 'accept');
  assert.equal(await run(virt, 'bob@mailbox.test'), '550 5.1.1 <bob@mailbox.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal(await run({ ...virt, virtual_mailbox_maps: 'inline:{ @mailbox.test=x }' }, 'bob@mailbox.test'), 'accept'); // @domain catch-all
  assert.equal(await run({ ...virt, virtual_mailbox_maps: 'inline:{ bob=x }' }, 'bob@mailbox.test'), '550 5.1.1 <bob@mailbox.test>: Recipient address rejected: User unknown in virtual mailbox table'); // bare local part only for local domains

  const relay = { relay_domains: 'relay.test', relay_recipient_maps: 'inline:{ alice@relay.test=ok }' };
  assert.equal(await run(relay, 'alice@relay.test'), 'accept');
  assert.equal(await run(relay, 'bob@relay.test'), '550 5.1.1 <bob@relay.test>: Recipient address rejected: User unknown in relay recipient table');

  const alias = { virtual_alias_domains: 'alias.test', virtual_alias_maps: 'inline:{ alice@alias.test=alice@example.test }' };
  assert.equal(await run(alias, 'alice@alias.test'), 'accept');
  assert.equal(await run(alias, 'bob@alias.test'), '550 5.1.1 <bob@alias.test>: Recipient address rejected: User unknown in virtual alias table');
});

test('reject_unlisted_recipient in a list runs once, and replaces the implicit check', async () => {
  const cfg = testConfig({ ...SITE, local_recipient_maps: 'inline:{ alice=1 }', smtpd_recipient_restrictions: 'reject_unlisted_recipient' });
  const ok = await evaluateRcpt(rcptContext(cfg, 'alice@example.test'));
  assert.equal(ok.action, 'accept');
  assert.equal(ok.trace.filter((s) => s.restriction === 'reject_unlisted_recipient').length, 1);
  const no = await evaluateRcpt(rcptContext(cfg, 'bob@example.test'));
  assert.deepEqual(steps(no).slice(-1), ['smtpd_recipient_restrictions:reject_unlisted_recipient=reject']);
  const permitted = testConfig({ ...SITE, local_recipient_maps: 'inline:{ alice=1 }', smtpd_recipient_restrictions: 'permit' });
  assert.equal(said(await evaluateRcpt(rcptContext(permitted, 'bob@example.test'))),
    '550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown in local recipient table'); // implicit, even after permit
});

test('smtpd_delay_reject: client, HELO and sender lists run at RCPT TO', async () => {
  const cfg = testConfig({ ...SITE, smtpd_client_restrictions: 'permit_mynetworks, reject' });
  const ctx = rcptContext(cfg, 'user@example.test');
  assert.equal(said(await evaluateRcpt(ctx)), '554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied');
  const early = await evaluateStage('connect', { ...ctx, stage: 'connect' });
  assert.equal(early.action, 'accept');                                               // delayed
  assert.match(early.note ?? '', /smtpd_delay_reject/);
  const now = testConfig({ ...SITE, smtpd_delay_reject: 'no', smtpd_client_restrictions: 'reject' });
  assert.equal(said(await evaluateStage('connect', { ...rcptContext(now, 'x@example.test'), stage: 'connect' })), '554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied');
  assert.equal((await evaluateRcpt(rcptContext(now, 'user@example.test'))).action, 'accept'); // not re-run at RCPT

  const helo = testConfig({ ...SITE, smtpd_helo_restrictions: 'reject' });
  assert.equal(said(await evaluateRcpt(rcptContext(helo, 'user@example.test'))), '554 5.7.1 <client.remote.test>: Helo command rejected: Access denied');
  assert.equal((await evaluateRcpt(rcptContext(helo, 'user@example.test', { helo: undefined }))).action, 'accept'); // no HELO: list skipped
  const sender = testConfig({ ...SITE, smtpd_sender_restrictions: 'reject' });
  assert.equal(said(await evaluateRcpt(rcptContext(sender, 'user@example.test', { sender: '' }))), '554 5.7.1 <>: Sender address rejected: Access denied'); // null sender
  assert.equal(said(await evaluateRcpt(rcptContext(sender, 'postmaster'))), 'accept');  // postmaster skips everything
  const unl = testConfig({ ...SITE, smtpd_reject_unlisted_sender: 'yes', local_recipient_maps: 'inline:{ alice=1 }' });
  assert.equal(said(await evaluateRcpt(rcptContext(unl, 'alice@example.test', { sender: 'mallory@example.test' }))),
    '550 5.1.0 <mallory@example.test>: Sender address rejected: User unknown in local recipient table');
});

test('evaluateList / evaluateStage for the other lists', async () => {
  const ctx = (s: Record<string, string>, over = {}) => rcptContext(testConfig(s), 'a@example.test', over);
  assert.equal(said(await evaluateList('data', 'smtpd_data_restrictions', ctx({ smtpd_data_restrictions: 'reject' }))), '554 5.7.1 <DATA>: Data command rejected: Access denied');
  assert.equal(said(await evaluateStage('eod', ctx({ smtpd_end_of_data_restrictions: 'defer' }))), '450 4.3.2 <END-OF-MESSAGE>: End-of-data rejected: Try again later');
  assert.equal((await evaluateStage('data', ctx({}))).action, 'accept');              // empty lists accept
  assert.equal(said(await evaluateStage('etrn', ctx({ smtpd_etrn_restrictions: 'reject' }, { etrnDomain: 'example.test' }))), '554 5.7.1 <example.test>: Etrn command rejected: Access denied');
  // DATA with several recipients has no recipient to test (smtpd_check_data()).
  const many = await evaluateStage('data', ctx({ smtpd_data_restrictions: 'reject_unauth_destination' }, { recipient: 'a@remote.test', recipientCount: 2, stage: 'data' }));
  assert.equal(many.action, 'accept');
  assert.match(many.trace[0]!.outcome.note, /no recipient/);
  const one = await evaluateStage('data', ctx({ smtpd_data_restrictions: 'reject_unauth_destination' }, { recipient: 'a@remote.test', recipientCount: 1, stage: 'data' }));
  assert.equal(said(one), '554 5.7.1 <a@remote.test>: Relay access denied');
  const mail = await evaluateStage('mail', ctx({ smtpd_delay_reject: 'no', smtpd_sender_restrictions: 'reject_unauth_destination, reject' }, { recipient: undefined }));
  assert.deepEqual(steps(mail), ['smtpd_sender_restrictions:reject_unauth_destination=dunno', 'smtpd_sender_restrictions:reject=reject']); // no recipient yet: DUNNO
  await assert.rejects(() => evaluateList('rcpt', 'smtpd_bogus_restrictions', ctx({})), RangeError);
});

test('checkRelaySafety: Postfix\'s start-up rule', () => {
  const msg = 'in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains';
  const check = (s: Record<string, string>) => checkRelaySafety(testConfig(s));
  assert.equal(check({}), undefined);                                                           // default relay list
  assert.equal(check({ smtpd_relay_restrictions: '' }), msg);                                   // both empty
  assert.equal(check({ smtpd_relay_restrictions: 'permit_mynetworks' }), msg);                  // no rejecting entry
  assert.equal(check({ smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'permit_mynetworks, reject_unauth_destination' }), undefined);
  assert.equal(check({ smtpd_relay_restrictions: 'permit, reject_unauth_destination' }), msg);  // nothing after permit counts
  assert.equal(check({ smtpd_relay_restrictions: 'warn_if_reject reject_unauth_destination' }), msg); // warn_if_reject X does not count
  assert.equal(check({ smtpd_relay_restrictions: 'DEFER' }), undefined);                        // case-insensitive
  assert.equal(check({ smtpd_relay_restrictions: 'defer_if_permit' }), undefined);
  assert.equal(check({ smtpd_relay_restrictions: 'check_sender_access hash:/x, reject' }), undefined); // presence, not position
  assert.equal(check({ smtpd_relay_restrictions: 'mine', smtpd_restriction_classes: 'mine', mine: 'permit_mynetworks, reject' }), undefined); // inside a class
  assert.equal(check({ smtpd_relay_restrictions: 'mine', smtpd_restriction_classes: 'mine', mine: 'permit_mynetworks' }), msg);
});
