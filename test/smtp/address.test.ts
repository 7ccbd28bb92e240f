import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMailFrom, parseRcptTo, splitAddress, type AddressOptions } from '../../src/smtp/address.js';
import { replyLine } from '../../src/smtp/reply.js';

const LAX: AddressOptions = { smtputf8: false, strict: false };
const STRICT: AddressOptions = { smtputf8: false, strict: true };
const UTF8: AddressOptions = { smtputf8: true, strict: false };

const BAD_SENDER = '501 5.1.7 Bad sender address syntax';
const BAD_RCPT = '501 5.1.3 Bad recipient address syntax';
const SYNTAX_MAIL = '501 5.5.4 Syntax: MAIL FROM:<address>';
const SYNTAX_RCPT = '501 5.5.4 Syntax: RCPT TO:<address>';
const NEED_UTF8 = '553 5.6.7 Must declare SMTPUTF8 to send unicode address';

/** The parsed address, or the reply line of the refusal. */
function mail(arg: string, opts = LAX): string {
  const r = parseMailFrom(arg, opts);
  return r.ok ? r.address : replyLine(r.reply);
}
function rcpt(arg: string, opts = LAX): string {
  const r = parseRcptTo(arg, opts);
  return r.ok ? r.address : replyLine(r.reply);
}
function params(arg: string, verb: 'mail' | 'rcpt' = 'mail'): Record<string, string | true> | string {
  const r = verb === 'mail' ? parseMailFrom(arg, LAX) : parseRcptTo(arg, LAX);
  return r.ok ? Object.fromEntries(r.params) : replyLine(r.reply);
}

test('MAIL FROM: plain, null and bracket forms', () => {
  assert.equal(mail('<user@example.test>'), 'user@example.test');           // RFC 5321 §4.1.2 Path
  assert.equal(mail('<>'), '');                                             // null reverse-path, §4.5.5
  assert.equal(mail(' <user@example.test>'), 'user@example.test');          // Postfix allows SP after the colon
  assert.equal(mail('<User.Name+tag@Example.TEST>'), 'User.Name+tag@Example.TEST'); // case kept as given
  assert.equal(mail('user@example.test'), 'user@example.test');             // no brackets, not strict (Postfix)
  assert.equal(mail('user@example.test', STRICT), BAD_SENDER);              // strict_rfc821_envelopes needs <>
  assert.equal(mail('<user@example.test>', STRICT), 'user@example.test');   // strict, well formed
  assert.equal(mail(''), SYNTAX_MAIL);                                       // nothing after the colon
  assert.equal(mail('   '), SYNTAX_MAIL);                                    // only white space
  assert.equal(mail('<user@example.test'), BAD_SENDER);                     // unbalanced bracket
  assert.equal(mail('<user@example.test>>'), BAD_SENDER);                   // junk after the path
  assert.equal(mail('<user@example.test>x'), BAD_SENDER);                   // no SP before parameters
  assert.equal(mail('user'), 'user');                                       // no domain: the restrictions decide (Postfix)
  assert.equal(mail('<user@>'), BAD_SENDER);                                // empty domain
  assert.equal(mail('<@example.test>'), BAD_SENDER);                        // empty local part
  assert.equal(mail('<a@b@example.test>'), 'a@b@example.test');            // routed: the restrictions decide (Postfix)
  assert.equal(mail('<user@example.test (comment)>'), BAD_SENDER);          // RFC 822 comment
  assert.equal(mail('Name <user@example.test>'), BAD_SENDER);               // RFC 822 phrase
  assert.equal(mail('<user name@example.test>'), BAD_SENDER);               // unquoted space
  assert.equal(mail('<user\u0001@example.test>'), BAD_SENDER);              // control character
});

test('RCPT TO: null path, postmaster, source routes', () => {
  assert.equal(rcpt('<>'), BAD_RCPT);                                        // RCPT TO:<> refused
  assert.equal(rcpt(''), SYNTAX_RCPT);                                       // nothing after the colon
  assert.equal(rcpt('<postmaster>'), 'postmaster');                          // §4.5.1: must be accepted
  assert.equal(rcpt('<PostMaster>'), 'PostMaster');                          // case-insensitive
  assert.equal(mail('<postmaster>'), 'postmaster');                          // unqualified, as Postfix passes it on
  assert.equal(rcpt('<user>'), 'user');                                      // reject_non_fqdn_recipient decides (Postfix)
  assert.equal(rcpt('<@relay.test:user@example.test>'), 'user@example.test'); // source route dropped (§4.1.2, App. C)
  assert.equal(rcpt('<@a.test,@b.test:user@example.test>'), 'user@example.test'); // A-d-l with two hops
  assert.equal(rcpt('<@[192.0.2.1]:user@example.test>'), 'user@example.test'); // route via a literal
  assert.equal(rcpt('<@:user@example.test>'), BAD_RCPT);                    // empty route domain
  assert.equal(rcpt('<@a.test user@example.test>'), BAD_RCPT);              // route without colon
  assert.equal(rcpt('<@a.test:>'), BAD_RCPT);                               // route and no mailbox
  assert.equal(rcpt('<@a.test:postmaster>'), 'postmaster');                  // the route goes, postmaster stays
  assert.equal(rcpt('<user@example.test@>'), BAD_RCPT);                     // trailing @
  assert.equal(rcpt('<user%remote.test@example.test>'), 'user%remote.test@example.test'); // % is atext
  assert.equal(rcpt('<remote.test!user@example.test>'), 'remote.test!user@example.test'); // ! is atext
});

test('quoted local parts are carried in quote-normalised form', () => {
  assert.equal(rcpt('<"john doe"@example.test>'), '"john doe"@example.test');       // quotes needed
  assert.equal(rcpt('<"john"@example.test>'), 'john@example.test');                  // quotes not needed
  assert.equal(rcpt('<"john.doe"@example.test>'), 'john.doe@example.test');          // a Dot-string
  assert.equal(rcpt('<"user@remote.test"@example.test>'), '"user@remote.test"@example.test'); // @ inside quotes
  assert.equal(rcpt('<"a\\"b"@example.test>'), '"a\\"b"@example.test');             // quoted-pair kept escaped
  assert.equal(rcpt('<"a\\b"@example.test>'), 'ab@example.test');                   // needless quoted-pair
  assert.equal(rcpt('<""@example.test>'), '""@example.test');                        // empty quoted string
  assert.equal(rcpt('<a..b@example.test>'), '"a..b"@example.test');                 // Postfix-tolerated Dot-string
  assert.equal(rcpt('<a.@example.test>'), '"a."@example.test');                     // trailing dot in local part
  assert.equal(rcpt('<"john doe@example.test>'), BAD_RCPT);                         // unterminated quote
  assert.equal(rcpt('<"john" doe@example.test>'), BAD_RCPT);                        // text after the quote
  assert.equal(rcpt('<"a>b"@example.test>'), '"a>b"@example.test');                 // > inside quotes
  assert.equal(rcpt('"john doe"@example.test'), '"john doe"@example.test');         // unbracketed, quoted space
});

test('domains and address literals', () => {
  assert.equal(rcpt('<user@[192.0.2.1]>'), 'user@[192.0.2.1]');                     // IPv4 literal, §4.1.3
  assert.equal(rcpt('<user@[IPv6:2001:db8::1]>'), 'user@[IPv6:2001:db8::1]');       // IPv6 literal
  assert.equal(rcpt('<user@[ipv6:::1]>'), 'user@[ipv6:::1]');                       // tag is case-insensitive
  assert.equal(rcpt('<user@[300.1.2.3]>'), BAD_RCPT);                               // not an address
  assert.equal(rcpt('<user@[2001:db8::1]>'), BAD_RCPT);                             // IPv6 needs the tag
  assert.equal(rcpt('<user@[x400:anything]>'), BAD_RCPT);                           // general literal refused
  assert.equal(rcpt('<user@[010.0.0.1]>'), BAD_RCPT);                               // no octal forms
  assert.equal(rcpt('<user@192.0.2.1>'), BAD_RCPT);                                 // IP without brackets
  assert.equal(rcpt('<user@remote.test.>'), 'user@remote.test.');                   // one trailing dot allowed
  assert.equal(rcpt('<user@remote.test..>'), BAD_RCPT);                             // two are not
  assert.equal(rcpt('<user@-remote.test>'), BAD_RCPT);                              // label starts with -
  assert.equal(rcpt('<user@remote-.test>'), BAD_RCPT);                              // label ends with -
  assert.equal(rcpt('<user@under_score.test>'), 'user@under_score.test');           // Postfix allows _
  assert.equal(rcpt('<user@localhost>'), 'user@localhost');                         // single label
  assert.equal(rcpt(`<user@${'a'.repeat(64)}.test>`), BAD_RCPT);                     // label over 63
  assert.equal(rcpt('<user@exa mple.test>'), BAD_RCPT);                             // space in domain
});

test('8-bit addresses need SMTPUTF8 (RFC 6531 §3.5)', () => {
  assert.equal(rcpt('<jürgen@example.test>'), NEED_UTF8);                           // no SMTPUTF8
  assert.equal(rcpt('<jürgen@example.test>', UTF8), 'jürgen@example.test');         // with SMTPUTF8
  assert.equal(rcpt('<user@bücher.test>', UTF8), 'user@bücher.test');               // U-label domain
  assert.equal(rcpt('<user@bücher.test>'), NEED_UTF8);                              // without
  assert.equal(mail('<jürgen@example.test> SMTPUTF8'), 'jürgen@example.test');      // given on this MAIL
  assert.equal(mail('<jürgen@example.test>'), NEED_UTF8);                           // not given
  assert.equal(mail('<jürgen@example.test'), BAD_SENDER);                           // syntax first, then 8-bit
  assert.equal(rcpt('<"jür gen"@example.test>', UTF8), '"jür gen"@example.test');   // 8-bit inside quotes
});

test('ESMTP parameters (RFC 5321 §4.1.2 esmtp-param)', () => {
  assert.deepEqual(params('<a@example.test> SIZE=1000 BODY=8BITMIME'), { SIZE: '1000', BODY: '8BITMIME' }); // two params
  assert.deepEqual(params('<a@example.test> size=10 body=7bit'), { SIZE: '10', BODY: '7bit' });  // keywords upper-cased
  assert.deepEqual(params('<a@example.test> SMTPUTF8'), { SMTPUTF8: true });                     // keyword without value
  assert.deepEqual(params('<> RET=HDRS ENVID=QQ314159'), { RET: 'HDRS', ENVID: 'QQ314159' });    // null sender with params
  assert.deepEqual(params('a@example.test  SIZE=5'), { SIZE: '5' });                              // unbracketed, two spaces
  assert.deepEqual(params('<a@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.test', 'rcpt'),
    { NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'rfc822;a@example.test' });                               // RCPT DSN params
  assert.deepEqual(params('<a@example.test>'), {});                                                // none
  assert.equal(params('<a@example.test> SIZE=1 size=2'), '501 5.5.4 Bad SIZE parameter syntax');  // repeated key
  assert.equal(params('<a@example.test> SIZE='), '501 5.5.4 Bad SIZE parameter syntax');           // empty value
  assert.equal(params('<a@example.test> SIZE=1=2'), '501 5.5.4 Bad SIZE parameter syntax');        // '=' in value
  assert.equal(params('<a@example.test> -X=1'), '555 5.5.4 Unsupported option: -X=1');             // bad keyword
  assert.equal(params('<a@example.test> =1'), '555 5.5.4 Unsupported option: =1');                 // no keyword
  assert.equal(params('<bad address> SIZE=1'), BAD_SENDER);                                        // address first
});

test('splitAddress: last unquoted @, domain lower-cased', () => {
  assert.deepEqual(splitAddress('User@Example.TEST'), { local: 'User', domain: 'example.test' });        // domain folded
  assert.deepEqual(splitAddress('"a@b"@Example.test'), { local: '"a@b"', domain: 'example.test' });      // @ in quotes
  assert.deepEqual(splitAddress('a@b@c.test'), { local: 'a@b', domain: 'c.test' });                       // last @
  assert.deepEqual(splitAddress('postmaster'), { local: 'postmaster', domain: '' });                       // no domain
  assert.deepEqual(splitAddress(''), { local: '', domain: '' });                                           // null sender
  assert.deepEqual(splitAddress('"a\\"@b"@x.test'), { local: '"a\\"@b"', domain: 'x.test' });             // escaped quote
});
