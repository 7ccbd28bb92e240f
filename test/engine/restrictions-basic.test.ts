/**
 * HELO, address, session, SASL, certificate, DNS-pending and legacy restrictions: unit tests
 * through the evaluator, then a differential run of the same SMTP dialogues against a private
 * Postfix 3.7 and an mxguard gateway, comparing reply code, enhanced code and text with the
 * host names masked. The Postfix part is skipped (with the reason printed) when Postfix or
 * root is missing, unless MXGUARD_REQUIRE_SYSTEM_DEPS is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateList, evaluateRcpt, restrictions } from '../../src/engine/index.js';
import type { Decision, Stage, TransactionContext } from '../../src/engine/types.js';
import { replyLine } from '../../src/smtp/reply.js';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { startPostfix } from '../helpers/postfix.js';
import { SmtpTestClient, type WireReply } from '../helpers/smtp-client.js';
import { rcptContext, testConfig } from './config-helper.js';

const said = (d: Decision) => (d.reply ? replyLine(d.reply) : d.action);
const lastNote = (d: Decision) => d.trace[d.trace.length - 1]?.outcome.note ?? '';

/** Runs one list at one stage with `settings` and a context changed by `over`. */
async function list(stage: Stage, name: string, value: string, over: Partial<TransactionContext> = {}, settings: Record<string, string> = {}): Promise<Decision> {
  const cfg = testConfig({ mydestination: 'example.test', [name]: value, ...settings });
  return evaluateList(stage, name, { ...rcptContext(cfg, 'rcpt@remote.test'), stage, ...over });
}

test('reject_invalid_helo_hostname: Postfix host name and address syntax', async () => {
  const helo = async (h: string | undefined) => said(await list('helo', 'smtpd_helo_restrictions', 'reject_invalid_helo_hostname', { helo: h }));
  for (const ok of ['host.example', 'localhost', 'host.example.', 'a--b.example', 'under_score.example', '1.2.3.4', '::1',
    '2001:db8::1', '[1.2.3.4]', '[IPv6:2001:db8::1]', '[ipv6:::1]', '[IPv6:::ffff:1.2.3.4]', 'x', '0.0.0.0', '9a', '1-2.3']) {
    assert.equal(await helo(ok), 'accept', ok);
  }
  for (const bad of ['bad_host!.example', 'host..example', '-a.example', 'a-.example', '123', '1.2.3', '.example',
    'a'.repeat(64) + '.example', '0.1.2.3', 'host.example..', 'héllo.example']) {
    assert.equal(await helo(bad), `501 5.5.2 <${bad}>: Helo command rejected: Invalid name`, bad);
  }
  for (const lit of ['[300.1.2.3]', '[2001:db8::1]', '[IPv6:2001:db8::g]', '[]', '[', '[1.2.3.4', '[host.example]']) {
    assert.equal(await helo(lit), `501 5.5.2 <${lit}>: Helo command rejected: invalid ip address`, lit);
  }
  const none = await list('helo', 'smtpd_helo_restrictions', 'reject_invalid_helo_hostname', { helo: undefined });
  assert.equal(said(none), 'accept');
  assert.match(lastNote(none), /no HELO\/EHLO yet/);
  const coded = await list('helo', 'smtpd_helo_restrictions', 'reject_invalid_helo_hostname', { helo: 'a!b' }, { invalid_hostname_reject_code: '550' });
  assert.equal(said(coded), '550 5.5.2 <a!b>: Helo command rejected: Invalid name');
  const soft = await list('helo', 'smtpd_helo_restrictions', 'reject_invalid_hostname', { helo: 'a!b' }, { invalid_hostname_reject_code: '450' });
  assert.equal(said(soft), '450 4.5.2 <a!b>: Helo command rejected: Invalid name');        // old name; class digit follows the code
  assert.equal(soft.trace[0]!.restriction, 'reject_invalid_hostname');
});

test('reject_non_fqdn_helo_hostname: a valid name with a dot; literals checked as addresses', async () => {
  const helo = async (h: string, s: Record<string, string> = {}) => said(await list('helo', 'smtpd_helo_restrictions', 'reject_non_fqdn_helo_hostname', { helo: h }, s));
  for (const ok of ['host.example', 'host.example.', '[1.2.3.4]', '[IPv6:::1]']) assert.equal(await helo(ok), 'accept', ok);
  for (const bad of ['localhost', 'localhost.', '1.2.3.4', 'bad!.example', 'x']) {
    assert.equal(await helo(bad), `504 5.5.2 <${bad}>: Helo command rejected: need fully-qualified hostname`, bad);
  }
  assert.equal(await helo('[300.1.2.3]'), '501 5.5.2 <[300.1.2.3]>: Helo command rejected: invalid ip address'); // invalid_hostname_reject_code
  assert.equal(await helo('localhost', { non_fqdn_reject_code: '450' }), '450 4.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
  assert.equal(await helo('localhost', { soft_bounce: 'yes' }), '404 4.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
  // In another list the reply still names the HELO argument and "Helo command".
  const inRcpt = await list('rcpt', 'smtpd_recipient_restrictions', 'reject_non_fqdn_hostname', { helo: 'localhost' });
  assert.equal(said(inRcpt), '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
});

test('permit_naked_ip_address (3.7 still runs it): bare IPv4 permits, a malformed one is rejected', async () => {
  const helo = async (h: string) => said(await list('helo', 'smtpd_helo_restrictions', 'permit_naked_ip_address, reject', { helo: h }));
  assert.equal(await helo('192.0.2.1'), 'accept');
  assert.equal(await helo('1.2.3'), '501 5.5.2 <1.2.3>: Helo command rejected: invalid ip address');
  assert.equal(await helo('::1'), '501 5.5.2 <::1>: Helo command rejected: invalid ip address');  // IPv6 needs the IPv6: tag
  assert.equal(await helo('host.example'), '554 5.7.1 <host.example>: Helo command rejected: Access denied');
  assert.equal(await helo('[192.0.2.1]'), '554 5.7.1 <[192.0.2.1]>: Helo command rejected: Access denied');
});

test('reject_non_fqdn_sender / _recipient: the address as given, no $myorigin', async () => {
  const sender = async (s: string | undefined) => said(await list('mail', 'smtpd_sender_restrictions', 'reject_non_fqdn_sender', { sender: s }));
  for (const ok of ['a@host.example', 'a@host.example.', 'a@[192.0.2.1]', 'a@[anything]', '"a@b"@host.example', 'x@y@host.example']) {
    assert.equal(await sender(ok), 'accept', ok);
  }
  for (const bad of ['alice', 'alice@localhost', 'alice@', 'a@123.456', 'a@host..example', 'a@-x.example', 'a@b.example@localhost']) {
    assert.equal(await sender(bad), `504 5.5.2 <${bad}>: Sender address rejected: need fully-qualified address`, bad);
  }
  assert.equal(await sender(''), 'accept');                                                 // null sender
  assert.equal(await sender(undefined), 'accept');
  const rcpt = async (r: string | undefined, stage: Stage = 'rcpt', count = 0) =>
    said(await list(stage, stage === 'data' ? 'smtpd_data_restrictions' : 'smtpd_recipient_restrictions', 'reject_non_fqdn_recipient', { recipient: r, recipientCount: count }));
  assert.equal(await rcpt('bob'), '504 5.5.2 <bob>: Recipient address rejected: need fully-qualified address');
  assert.equal(await rcpt('bob@remote.test'), 'accept');
  assert.equal(await rcpt('bob', 'data', 1), '504 5.5.2 <bob>: Recipient address rejected: need fully-qualified address');
  assert.equal(await rcpt('bob', 'data', 2), 'accept');                                     // several recipients: none is tested
  // In the sender list at RCPT time the reply still says "Recipient address".
  const mixed = await list('rcpt', 'smtpd_sender_restrictions', 'reject_non_fqdn_recipient', { recipient: 'bob@localhost' });
  assert.equal(said(mixed), '504 5.5.2 <bob@localhost>: Recipient address rejected: need fully-qualified address');
  assert.match(lastNote(mixed), /localhost has no dot/);
});

test('reject_multi_recipient_bounce: null sender; RCPT after one accepted, DATA/EOD with more than one', async () => {
  const run = async (stage: Stage, listName: string, sender: string, count: number) =>
    said(await list(stage, listName, 'reject_multi_recipient_bounce', { sender, recipientCount: count, recipient: stage === 'rcpt' ? 'r@remote.test' : undefined }));
  assert.equal(await run('rcpt', 'smtpd_sender_restrictions', '', 0), 'accept');
  assert.equal(await run('rcpt', 'smtpd_sender_restrictions', '', 1), '550 5.5.3 <>: Sender address rejected: Multi-recipient bounce');
  assert.equal(await run('rcpt', 'smtpd_recipient_restrictions', '', 1), '550 5.5.3 <r@remote.test>: Recipient address rejected: Multi-recipient bounce');
  assert.equal(await run('rcpt', 'smtpd_sender_restrictions', 'a@b.example', 3), 'accept');
  assert.equal(await run('mail', 'smtpd_sender_restrictions', '', 0), 'accept');
  assert.equal(await run('data', 'smtpd_data_restrictions', '', 1), 'accept');
  assert.equal(await run('data', 'smtpd_data_restrictions', '', 2), '550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce');
  assert.equal(await run('eod', 'smtpd_end_of_data_restrictions', '', 2), '550 5.5.3 <END-OF-MESSAGE>: End-of-data rejected: Multi-recipient bounce');
  const coded = await list('data', 'smtpd_data_restrictions', 'reject_multi_recipient_bounce', { sender: '', recipientCount: 5 }, { multi_recipient_bounce_reject_code: '450' });
  assert.equal(said(coded), '450 4.5.3 <DATA>: Data command rejected: Multi-recipient bounce');
});

test('reject_unauth_pipelining reads the session flag; reject_plaintext_session; sleep', async () => {
  const pipe = async (flag: boolean | undefined, stage: Stage = 'data', listName = 'smtpd_data_restrictions') =>
    said(await list(stage, listName, 'reject_unauth_pipelining', { illegalPipelining: flag }));
  assert.equal(await pipe(undefined), 'accept');
  assert.equal(await pipe(false), 'accept');
  assert.equal(await pipe(true), '503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining');
  assert.equal(await pipe(true, 'rcpt', 'smtpd_client_restrictions'), '503 5.5.0 <unknown[127.0.0.9]>: Client host rejected: Improper use of SMTP command pipelining');
  const plain = async (tls: boolean, s: Record<string, string> = {}) => said(await list('mail', 'smtpd_sender_restrictions', 'reject_plaintext_session', { tls }, s));
  assert.equal(await plain(true), 'accept');
  assert.equal(await plain(false), '450 4.7.1 Session encryption is required');
  assert.equal(await plain(false, { plaintext_reject_code: '530' }), '530 5.7.1 Session encryption is required');
  const t0 = Date.now();
  const slept = await list('rcpt', 'smtpd_client_restrictions', 'sleep 1, reject');
  assert.ok(Date.now() - t0 >= 900, 'sleep 1 pauses a second');
  assert.equal(said(slept), '554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied');
  assert.deepEqual(slept.trace.map((s) => `${s.restriction}(${s.args.join(',')})=${s.outcome.kind}`), ['sleep(1)=dunno', 'reject()=reject']);
  assert.equal(said(await list('rcpt', 'smtpd_client_restrictions', 'sleep x')), '451 4.3.5 Server configuration error');
  assert.equal(said(await list('rcpt', 'smtpd_client_restrictions', 'sleep')), '451 4.3.5 Server configuration error');
});

test('sender login maps: owners, lookup order, the four mismatch restrictions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-login-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const map = join(dir, 'senders');
  writeFileSync(map, [
    'alice@example.test alice',
    'shared@example.test alice, bob  carol',
    '@team.test teamlead',
    'postmaster admin',
    'list+ext@example.test listowner',
  ].join('\n') + '\n');
  const settings = { smtpd_sender_login_maps: `hash:${map}`, recipient_delimiter: '+' };
  const as = (user?: string): Partial<TransactionContext> => (user ? { sasl: { method: 'PLAIN', username: user } } : {});
  const run = async (restriction: string, sender: string, user?: string, s: Record<string, string> = settings) =>
    said(await list('mail', 'smtpd_sender_restrictions', restriction, { sender, ...as(user) }, s));
  const AUTH = 'reject_authenticated_sender_login_mismatch';
  assert.equal(await run(AUTH, 'alice@example.test', 'alice'), 'accept');
  assert.equal(await run(AUTH, 'ALICE@Example.Test', 'Alice'), 'accept');                    // case-insensitive
  assert.equal(await run(AUTH, 'shared@example.test', 'carol'), 'accept');                  // comma/space separated owners
  assert.equal(await run(AUTH, 'x@team.test', 'teamlead'), 'accept');                       // @domain
  assert.equal(await run(AUTH, 'postmaster@example.test', 'admin'), 'accept');              // bare user in a local domain
  assert.equal(await run(AUTH, 'postmaster', 'admin'), 'accept');                           // unqualified: @$myorigin, local
  assert.equal(await run(AUTH, 'alice+tag@example.test', 'alice'), 'accept');               // user+ext@domain → user@domain
  assert.equal(await run(AUTH, 'alice@example.test', 'bob'), '553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob');
  assert.equal(await run(AUTH, 'nobody@else.test', 'bob'), '553 5.7.1 <nobody@else.test>: Sender address rejected: not owned by user bob'); // unlisted
  assert.equal(await run(AUTH, 'nobody@else.test', 'bob', {}), '553 5.7.1 <nobody@else.test>: Sender address rejected: not owned by user bob'); // empty maps too
  assert.equal(await run(AUTH, 'alice@example.test'), 'accept');                            // not logged in: other restriction
  assert.equal(await run(AUTH, '', 'bob'), 'accept');                                       // null sender
  const UNAUTH = 'reject_unauthenticated_sender_login_mismatch';
  assert.equal(await run(UNAUTH, 'alice@example.test'), '553 5.7.1 <alice@example.test>: Sender address rejected: not logged in');
  assert.equal(await run(UNAUTH, 'nobody@else.test'), 'accept');
  assert.equal(await run(UNAUTH, 'alice@example.test', 'bob'), 'accept');
  const KNOWN = 'reject_known_sender_login_mismatch';
  assert.equal(await run(KNOWN, 'nobody@else.test', 'bob'), 'accept');                     // unlisted: allowed
  assert.equal(await run(KNOWN, 'alice@example.test', 'bob'), '553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob');
  assert.equal(await run(KNOWN, 'alice@example.test'), '553 5.7.1 <alice@example.test>: Sender address rejected: not logged in');
  const BOTH = 'reject_sender_login_mismatch';
  assert.equal(await run(BOTH, 'alice@example.test', 'bob'), '553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob');
  assert.equal(await run(BOTH, 'alice@example.test'), '553 5.7.1 <alice@example.test>: Sender address rejected: not logged in');
  assert.equal(await run(BOTH, 'nobody@else.test'), 'accept');
  assert.equal(await run(BOTH, 'alice@example.test', undefined, { ...settings, smtpd_sasl_auth_enable: 'no' }), 'accept'); // "no SASL support"
  // The reply names the sender as "Sender address" also in the recipient list.
  const inRcpt = await list('rcpt', 'smtpd_recipient_restrictions', BOTH, { sender: 'alice@example.test' }, settings);
  assert.equal(said(inRcpt), '553 5.7.1 <alice@example.test>: Sender address rejected: not logged in');
  assert.match(lastNote(inRcpt), /belongs to alice .*key alice@example\.test/);
});

test('certificate restrictions answer DUNNO with a reason; table arguments are checked', async () => {
  const d = await list('rcpt', 'smtpd_client_restrictions', 'permit_tls_clientcerts, permit_tls_all_clientcerts, check_ccert_access inline:{x=OK}', { tls: true });
  assert.equal(said(d), 'accept');
  assert.deepEqual(d.trace.map((s) => s.outcome.kind), ['dunno', 'dunno', 'dunno']);
  assert.match(d.trace[0]!.outcome.note, /client certificates/);
  assert.ok(restrictions.get('permit_tls_all_clientcerts')?.mayPermit);
});

test('DNS, verification and policy restrictions are declared with Postfix\'s arguments; those without their service answer DUNNO', async () => {
  const expected: [string, number, boolean][] = [
    ['reject_unknown_client_hostname', 0, false], ['reject_unknown_reverse_client_hostname', 0, false],
    ['reject_unknown_helo_hostname', 0, false], ['reject_unknown_sender_domain', 0, false], ['reject_unknown_recipient_domain', 0, false],
    ['reject_rbl_client', 1, false], ['reject_rhsbl_client', 1, false], ['reject_rhsbl_reverse_client', 1, false],
    ['reject_rhsbl_helo', 1, false], ['reject_rhsbl_sender', 1, false], ['reject_rhsbl_recipient', 1, false],
    ['permit_dnswl_client', 1, true], ['permit_rhswl_client', 1, true], ['permit_mx_backup', 0, true],
    ['reject_unverified_sender', 0, false], ['reject_unverified_recipient', 0, false], ['check_policy_service', 1, true],
    ['reject_maps_rbl', 0, false], ['reject_unknown_client', 0, false], ['reject_unknown_hostname', 0, false],
    ['reject_unknown_address', 0, false], ['reject_rbl', 1, false],
  ];
  for (const target of ['client', 'reverse_client_hostname', 'helo', 'sender', 'recipient']) {
    for (const kind of ['a', 'mx', 'ns']) expected.push([`check_${target}_${kind}_access`, 1, false]);
  }
  for (const [name, args, mayPermit] of expected) {
    const def = restrictions.get(name);
    assert.ok(def, name);
    assert.equal(def.args, args, name);
    assert.equal(def.mayPermit, mayPermit, name);
  }
  for (const name of ['reject_unverified_sender', 'reject_unverified_recipient', 'check_policy_service']) assert.ok(restrictions.get(name)!.unavailable, name);
  assert.equal(restrictions.get('check_policy_service')!.unavailable, 'policy service client not yet in mxguard');
  const d = await list('rcpt', 'smtpd_recipient_restrictions', 'reject_unverified_recipient, check_policy_service inet:127.0.0.1:9');
  assert.equal(said(d), 'accept');
  assert.ok(d.trace.every((s) => s.outcome.kind === 'dunno' && /not yet in mxguard/.test(s.outcome.note)));
  assert.deepEqual(d.trace[1]!.args, ['inet:127.0.0.1:9']);
});

test('legacy names as Postfix 3.7 runs them; names 3.7 does not know stay unknown', async () => {
  const site = { mydestination: 'example.test', relay_domains: 'partner.test' };
  const rcpt = async (r: string, client = 'unknown') => said(await evaluateRcpt(rcptContext(testConfig({ ...site, smtpd_relay_restrictions: 'check_relay_domains' }), r,
    { client: { address: '127.0.0.9', port: 1, name: client, reverseName: client } })));
  assert.equal(await rcpt('u@example.test'), 'accept');
  assert.equal(await rcpt('u@partner.test'), 'accept');
  assert.equal(await rcpt('u@remote.test'), '554 5.7.1 <u@remote.test>: Recipient address rejected: Relay access denied');
  assert.equal(await rcpt('u@remote.test', 'mx.partner.test'), 'accept');                  // client name in relay_domains
  const maps = await evaluateRcpt(rcptContext(testConfig({ ...site, smtpd_recipient_restrictions: 'check_recipient_maps', local_recipient_maps: 'inline:{known=1}' }), 'who@example.test'));
  assert.equal(said(maps), '550 5.1.1 <who@example.test>: Recipient address rejected: User unknown in local recipient table');
  assert.ok(maps.trace.some((s) => s.restriction === 'check_recipient_maps' && s.outcome.kind === 'reject'));
  for (const unknown of ['reject_unknown_forward_client_hostname', 'permit_mydomain', 'reject_unknown_sender']) {
    assert.equal(restrictions.get(unknown), undefined, unknown);
  }
});

// ---- differential: the same dialogues against Postfix 3.7 and mxguard ---------------------

const mask = (r: WireReply) => `${r.code}${r.status ? ` ${r.status}` : ''} ${r.text.join(' / ')}`.replace(/relay\.postfix\.test|mx\.example\.test/g, 'HOST');

/** One session: EHLO/HELO, then each command in turn; the replies after the greeting, masked. */
async function dialogue(port: number, commands: readonly string[]): Promise<string[]> {
  const c = await SmtpTestClient.connect(port);
  try {
    await c.read();
    const out: string[] = [];
    for (const cmd of commands) out.push(mask(await c.cmd(cmd)));
    return out;
  } finally {
    c.destroy();
  }
}

const SHARED: Record<string, string> = {
  smtpd_helo_restrictions: 'reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname',
  smtpd_sender_restrictions: 'reject_non_fqdn_sender, reject_multi_recipient_bounce',
  smtpd_recipient_restrictions: 'reject_non_fqdn_recipient',
  smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
};

/** Dialogues whose last reply is compared (the EHLO/MAIL replies before it are compared too). */
const CASES: readonly (readonly string[])[] = [
  ...['localhost', 'bad_host!.example', '[300.1.2.3]', '[1.2.3.4]', '[IPv6:2001:db8::1]', '[2001:db8::1]', '1.2.3.4', 'host.example.',
    'host..example', '1-2.3', 'a--b.example', '-a.example', 'under_score.example', `${'a'.repeat(64)}.example`, '[]']
    .map((h) => [`EHLO ${h}`, 'MAIL FROM:<a@sender.test>', 'RCPT TO:<b@remote.test>']),
  ...['<alice@localhost>', '<alice@[192.0.2.1]>', '<alice@host.example.>', '<a@123.456>', '<>']
    .map((s) => ['EHLO client.example', `MAIL FROM:${s}`, 'RCPT TO:<b@remote.test>']),
  ...['<bob@localhost>', '<bob@remote.test.>', '<bob@[192.0.2.1]>']
    .map((r) => ['EHLO client.example', 'MAIL FROM:<a@sender.test>', `RCPT TO:${r}`]),
  ['EHLO client.example', 'MAIL FROM:<>', 'RCPT TO:<b1@remote.test>', 'RCPT TO:<b2@remote.test>'],
  ['HELO localhost', 'MAIL FROM:<>', 'RCPT TO:<b1@remote.test>'],
];

test('differential: HELO, address and multi-recipient-bounce replies equal Postfix 3.7', async (t) => {
  const pf = await startPostfix(t, { relayhost: '[127.0.0.1]:9', main: SHARED });
  if (!pf) return;
  const gw = await startGateway(t, SHARED);
  const diffs: string[] = [];
  for (const c of CASES) {
    const want: string[] = await dialogue(pf.port, c);
    const got: string[] = await dialogue(gw.port, c);
    if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`${c.join(' | ')}\n  postfix: ${want.slice(1).join(' | ')}\n  mxguard: ${got.slice(1).join(' | ')}`);
  }
  assert.deepEqual(diffs, []);
});

/**
 * Unqualified addresses: Postfix's parser lets them through to the restrictions, mxguard's
 * smtp/ parser refuses them with 501 first (owned by smtp/; the engine's own replies for them
 * are covered by the unit tests above).
 */
const UNQUALIFIED: readonly [cmds: readonly string[], postfix: string][] = [
  [['EHLO client.example', 'MAIL FROM:<alice>', 'RCPT TO:<b@remote.test>'], '504 5.5.2 <alice>: Sender address rejected: need fully-qualified address'],
  [['EHLO client.example', 'MAIL FROM:<a@sender.test>', 'RCPT TO:<bob>'], '504 5.5.2 <bob>: Recipient address rejected: need fully-qualified address'],
];

test('differential: unqualified addresses reach reject_non_fqdn_* in Postfix', async (t) => {
  const pf = await startPostfix(t, { relayhost: '[127.0.0.1]:9', main: SHARED });
  if (!pf) return;
  const gw = await startGateway(t, SHARED);
  for (const [c, reply] of UNQUALIFIED) assert.equal((await dialogue(pf.port, c)).at(-1), reply, c.join(' | '));
  await t.test('mxguard gives the same replies', async () => {
    for (const [c, reply] of UNQUALIFIED) assert.equal((await dialogue(gw.port, c)).at(-1), reply, c.join(' | '));
  });
});

test('differential: DATA-stage multi-recipient bounce, and the pipelining flag in Postfix', async (t) => {
  const data = { smtpd_data_restrictions: 'reject_multi_recipient_bounce, reject_unauth_pipelining', smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' };
  // Which old names 3.7 knows: each is the right-hand side of an access entry for its own
  // sender; an unknown name answers 451 4.3.5 when evaluated.
  const names = ['permit_naked_ip_address', 'check_relay_domains', 'reject_maps_rbl', 'reject_rbl', 'reject_unknown_client',
    'reject_unknown_hostname', 'reject_invalid_hostname', 'reject_non_fqdn_hostname', 'reject_unknown_address', 'check_recipient_maps',
    'reject_unknown_forward_client_hostname', 'permit_mydomain', 'reject_unknown_sender'];
  const senders = `inline:{ ${names.map((n, i) => `k${i}@[192.0.2.1]=${n}`).join(', ')} }`;
  const pf = await startPostfix(t, { relayhost: '[127.0.0.1]:9', main: { ...data, smtpd_sender_restrictions: `check_sender_access ${senders}` } });
  if (!pf) return;
  const gw = await startGateway(t, data);
  for (const c of [
    ['EHLO client.example', 'MAIL FROM:<>', 'RCPT TO:<b1@remote.test>', 'RCPT TO:<b2@remote.test>', 'DATA'],
    ['EHLO client.example', 'MAIL FROM:<>', 'RCPT TO:<b1@remote.test>', 'DATA'],
    ['EHLO client.example', 'MAIL FROM:<a@sender.test>', 'RCPT TO:<b1@remote.test>', 'RCPT TO:<b2@remote.test>', 'DATA'],
  ]) {
    assert.deepEqual(await dialogue(gw.port, c), await dialogue(pf.port, c), c.join(' | '));
  }

  for (const [i, name] of names.entries()) {
    const [, , rcpt] = await dialogue(pf.port, ['EHLO [192.0.2.7]', `MAIL FROM:<k${i}@[192.0.2.1]>`, 'RCPT TO:<b@remote.test>']);
    const unknownToPostfix = rcpt === '451 4.3.5 Server configuration error';
    assert.equal(restrictions.has(name), !unknownToPostfix, `${name}: Postfix says ${rcpt}`);
    if (name === 'check_relay_domains') assert.equal(rcpt, '554 5.7.1 <b@remote.test>: Recipient address rejected: Relay access denied');
  }

  // The rule smtpd uses for SMTPD_FLAG_ILL_PIPELINING, observed on Postfix only (mxguard's
  // session does not set the flag yet): input already waiting when a command is taken up
  // counts if the client has not said EHLO (or said HELO), or after EHLO/HELO/DATA/NOOP/VRFY.
  /** Sends each group of commands in one write and reads its replies; returns the last reply. */
  const burst = async (...groups: string[][]): Promise<string> => {
    const c = await SmtpTestClient.connect(pf.port);
    try {
      await c.read();
      let last = '';
      for (const g of groups) {
        c.send(g.map((l) => `${l}\r\n`).join(''));
        for (let i = 0; i < g.length; i++) last = mask(await c.read());
      }
      return last;
    } finally { c.destroy(); }
  };
  const ILL = '503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining';
  const MAIL = 'MAIL FROM:<a@sender.test>';
  const RCPT = 'RCPT TO:<b@remote.test>';
  // ESMTP: MAIL, RCPT and RSET may be pipelined; DATA ends a group.
  assert.match(await burst(['EHLO client.example'], [MAIL, RCPT, 'DATA']), /^354 /);
  assert.match(await burst(['EHLO client.example'], ['RSET', MAIL, RCPT], ['DATA']), /^354 /);
  assert.equal(await burst(['EHLO client.example', MAIL], [RCPT], ['DATA']), ILL);                 // after EHLO
  assert.equal(await burst(['EHLO client.example'], ['NOOP', MAIL], [RCPT], ['DATA']), ILL);       // after NOOP
  assert.equal(await burst(['EHLO client.example'], ['VRFY x@remote.test', MAIL], [RCPT], ['DATA']), ILL); // after VRFY
  assert.equal(await burst(['EHLO client.example'], ['HELO client.example', MAIL], [RCPT], ['DATA']), ILL); // after HELO
  // The flag stays for the session: a later, correct transaction is still refused at DATA.
  assert.equal(await burst(['EHLO client.example', 'NOOP'], [MAIL], [RCPT], ['DATA']), ILL);
  // HELO (plain SMTP): any command with more input behind it.
  assert.match(await burst(['HELO client.example'], [MAIL], [RCPT], ['DATA']), /^354 /);
  assert.equal(await burst(['HELO client.example'], [MAIL, RCPT], ['DATA']), ILL);
  // Before any HELO/EHLO the session protocol is SMTP: any command with input behind it counts.
  assert.equal(await burst(['RSET', 'EHLO client.example'], [MAIL], [RCPT], ['DATA']), ILL);
  // Unknown commands are not looked at.
  assert.match(await burst(['EHLO client.example'], ['BOGUS', MAIL], [RCPT], ['DATA']), /^354 /);
});
