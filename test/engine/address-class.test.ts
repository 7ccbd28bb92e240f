import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressResolver, authorizedDestination, resolverSettings, type ResolvedAddress } from '../../src/engine/address-class.js';
import { testConfig } from './config-helper.js';

const site = {
  mydestination: 'example.test, localhost',
  relay_domains: 'relay.test',
  virtual_mailbox_domains: 'mailbox.test',
  virtual_alias_domains: 'alias.test',
};

function resolver(extra: Record<string, string> = {}): AddressResolver {
  return new AddressResolver(resolverSettings(testConfig({ ...site, ...extra })));
}

/** recipient / class / routed, compactly. */
function r(addr: string, extra: Record<string, string> = {}): string {
  const x: ResolvedAddress = resolver(extra).resolve(addr);
  return `${x.recipient} ${x.addressClass}${x.routed ? ' routed' : ''}${x.invalid ? ' invalid' : ''}`;
}

test('address classes: local, virtual alias, virtual mailbox, relay, default', () => {
  assert.equal(r('user@example.test'), 'user@example.test local');          // $mydestination
  assert.equal(r('User@EXAMPLE.Test'), 'user@example.test local');          // folded, as Postfix's resolver cache
  assert.equal(r('user@localhost'), 'user@localhost local');                // listed too
  assert.equal(r('user@sub.example.test'), 'user@sub.example.test default'); // mydestination has no subdomains
  assert.equal(r('user@alias.test'), 'user@alias.test virtual_alias');      // $virtual_alias_domains
  assert.equal(r('user@mailbox.test'), 'user@mailbox.test virtual');        // $virtual_mailbox_domains
  assert.equal(r('user@relay.test'), 'user@relay.test relay');              // $relay_domains
  assert.equal(r('user@a.relay.test'), 'user@a.relay.test relay');          // subdomain (parent style default)
  assert.equal(r('user@a.relay.test', { parent_domain_matches_subdomains: 'mynetworks' }), 'user@a.relay.test default'); // without parent style
  assert.equal(r('user@remote.test'), 'user@remote.test default');          // anything else
  assert.equal(r('postmaster'), 'postmaster@mx.example.test local');        // no domain: $myhostname
  assert.equal(r(''), 'mailer-daemon@mx.example.test local');               // empty: MAILER-DAEMON
});

test('trailing dots and trailing @', () => {
  assert.equal(r('user@remote.test.'), 'user@remote.test default');         // trailing dot dropped
  assert.equal(r('user@example.test.'), 'user@example.test local');         // local after the dot goes
  assert.equal(r('user@example.test@'), 'user@example.test local');         // trailing @ dropped, as Postfix
  assert.equal(r('user@remote.test..'), 'user@remote.test.. default invalid'); // ".." left alone, invalid
});

test('percent hack and bang paths (allow_percent_hack, swap_bangpath)', () => {
  assert.equal(r('user%remote.test@example.test'), 'user@remote.test default');      // % becomes @
  assert.equal(r('user%remote.test@example.test', { allow_percent_hack: 'no' }), 'user%remote.test@example.test local routed'); // kept: routed
  assert.equal(r('user%relay.test@example.test'), 'user@relay.test relay');          // to a relay domain: fine
  assert.equal(r('user%example.test@example.test'), 'user@example.test local');      // both local
  assert.equal(r('a%b%remote.test@example.test'), 'a%b@remote.test default routed'); // rightmost % only
  assert.equal(r('remote.test!user@example.test'), 'user@remote.test default');      // site!user -> user@site
  assert.equal(r('remote.test!user@example.test', { swap_bangpath: 'no' }), 'remote.test!user@example.test local routed'); // kept: routed
  assert.equal(r('a.test!b.test!user@example.test'), 'b.test!user@a.test default routed'); // first ! is swapped
  assert.equal(r('user%remote.test'), 'user@remote.test default');                   // no domain at all
});

test('sender-specified routing: RESOLVE_FLAG_ROUTED', () => {
  assert.equal(r('user@remote.test@example.test'), 'user@remote.test default');      // local domain stripped
  assert.equal(r('user@remote.test@relay.test'), 'user@remote.test@relay.test relay routed'); // via a relay domain
  assert.equal(r('user%remote.test@relay.test'), 'user%remote.test@relay.test relay routed'); // % through a relay domain
  assert.equal(r('remote.test!user@relay.test'), 'remote.test!user@relay.test relay routed'); // ! through a relay domain
  assert.equal(r('"user@remote.test"@example.test'), 'user@remote.test default');    // quoted @ opened (resolve_dequoted_address)
  assert.equal(r('"user@remote.test"@example.test', { resolve_dequoted_address: 'no' }), 'user@remote.test@example.test local routed');
  assert.equal(r('"user%remote.test"@example.test'), 'user@remote.test default');    // quoted % opened
  assert.equal(r('"remote.test!user"@example.test'), 'user@remote.test default');    // quoted ! opened
  assert.equal(r('"user@remote.test"@relay.test'), 'user@remote.test@relay.test relay routed'); // quoted, via relay
  assert.equal(r('"john doe"@example.test'), 'john doe@example.test local');         // plain quoted local part
  assert.equal(r('user@remote.test@example.test@example.test'), 'user@remote.test default'); // repeated local domains
});

test('address literals are local only on conservative evidence', () => {
  assert.equal(r('user@[192.0.2.1]'), 'user@[192.0.2.1] default');                  // unknown literal
  assert.equal(r('user@[127.0.0.1]'), 'user@[127.0.0.1] local');                    // single-host mynetworks entry
  assert.equal(r('user@[127.0.0.1]', { mynetworks: '127.0.0.0/8' }), 'user@[127.0.0.1] default'); // a network is not this host
  assert.equal(r('user@[192.0.2.1]', { mydestination: 'example.test, [192.0.2.1]' }), 'user@[192.0.2.1] local'); // listed
  assert.equal(r('user@[192.0.2.5]', { inet_interfaces: '192.0.2.5' }), 'user@[192.0.2.5] local');    // explicit interface
  assert.equal(r('user@[192.0.2.6]', { proxy_interfaces: '192.0.2.6' }), 'user@[192.0.2.6] local');   // proxy_interfaces
  assert.equal(r('user@[ipv6:::1]', { inet_interfaces: 'loopback-only' }), 'user@[ipv6:::1] local');  // loopback-only
  assert.equal(r('user@[IPv6:::ffff:127.0.0.1]'), 'user@[ipv6:::ffff:127.0.0.1] local'); // mapped form of a host entry
  assert.equal(r('user@[300.0.0.1]'), 'user@[300.0.0.1] default invalid');          // not an address
  assert.equal(r('user%[127.0.0.1]@example.test'), 'user@[127.0.0.1] local');       // percent hack to a local literal
});

test('authorizedDestination: final and relay classes, routed never', () => {
  const res = resolver();
  const ok = (a: string, untrusted = false) => authorizedDestination(res.resolve(a), untrusted).ok;
  assert.equal(ok('user@example.test'), true);                  // local
  assert.equal(ok('user@alias.test'), true);                    // virtual alias
  assert.equal(ok('user@mailbox.test'), true);                  // virtual mailbox
  assert.equal(ok('user@relay.test'), true);                    // relay
  assert.equal(ok('user@remote.test'), false);                  // default
  assert.equal(ok('user@remote.test@relay.test'), false);       // routed
  assert.equal(ok('user@remote.test@relay.test', true), true);  // allow_untrusted_routing = yes
  assert.equal(ok('user@remote.test..'), false);                // invalid domain
  assert.match(authorizedDestination(res.resolve('user%remote.test@example.test'), false).why, /not local/);
});

test('table patterns in domain lists', () => {
  assert.equal(r('user@t.test', { relay_domains: 'inline:{ t.test=OK }' }), 'user@t.test relay');         // table key
  assert.equal(r('user@x.t.test', { relay_domains: 'inline:{ t.test=OK }' }), 'user@x.t.test relay');     // parent key
  assert.equal(r('user@v.test', { virtual_mailbox_domains: 'inline:{ v.test=OK }' }), 'user@v.test virtual');
  assert.equal(r('user@v.test', { mydestination: 'inline:{ v.test=OK }' }), 'user@v.test local');
});
