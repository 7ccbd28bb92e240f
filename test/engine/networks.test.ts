import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkList } from '../../src/engine/networks.js';
import { CidrTable } from '../../src/engine/cidr-table.js';
import { DomainList } from '../../src/engine/domain-list.js';
import { ConfigError } from '../../src/config/types.js';

function tmp(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-net-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('NetworkList: networks, hosts, IPv6 and mapped IPv4', () => {
  const l = new NetworkList(['127.0.0.0/8', '192.168.1.1', '[::1]/128', '[2001:db8::]/32', '10.1.0.0/16']);
  assert.equal(l.matches('127.0.0.9'), true);               // inside 127.0.0.0/8
  assert.equal(l.matches('128.0.0.1'), false);              // outside
  assert.equal(l.matches('192.168.1.1'), true);             // bare host entry
  assert.equal(l.matches('192.168.1.2'), false);            // neighbour of the host entry
  assert.equal(l.matches('::1'), true);                     // [::1]/128
  assert.equal(l.matches('0:0:0:0:0:0:0:1'), true);         // same address, long form
  assert.equal(l.matches('2001:db8:1::5'), true);           // inside [2001:db8::]/32
  assert.equal(l.matches('2001:db9::5'), false);            // outside
  assert.equal(l.matches('::ffff:127.0.0.1'), true);        // IPv4-mapped IPv6 matches IPv4 networks
  assert.equal(l.matches('::ffff:10.1.2.3'), true);         // mapped, second network
  assert.equal(l.matches('::ffff:11.1.2.3'), false);        // mapped, outside
  assert.equal(l.matches('[::1]'), true);                   // bracketed client address
  assert.equal(l.matches('fe80::1%eth0'), false);           // zone id stripped, not listed
  assert.equal(l.matches('not-an-address'), false);         // junk never matches
  assert.equal(l.matches(''), false);                       // empty
  assert.equal(new NetworkList([]).matches('127.0.0.1'), false); // empty list
});

test('NetworkList: "!" exclusions, first match wins', () => {
  const l = new NetworkList(['!192.168.0.1', '192.168.0.0/28']);   // postconf(5) example
  assert.equal(l.matches('192.168.0.1'), false);            // excluded first
  assert.equal(l.matches('192.168.0.2'), true);             // in the /28
  assert.equal(l.matches('192.168.0.16'), false);           // past the /28
  assert.deepEqual(l.match('192.168.0.1'), { pattern: '192.168.0.1', negated: true }); // what matched
  const order = new NetworkList(['192.168.0.0/28', '!192.168.0.1']);
  assert.equal(order.matches('192.168.0.1'), true);         // the earlier pattern wins
  assert.equal(new NetworkList(['!!127.0.0.1']).matches('127.0.0.1'), true); // double negation
});

test('NetworkList: IPv4-mapped IPv6 networks match IPv4 clients', () => {
  const l = new NetworkList(['[::ffff:127.0.0.0]/104']);
  assert.equal(l.matches('127.0.0.5'), true);               // IPv4 client in the mapped range
  assert.equal(l.matches('::ffff:127.0.0.5'), true);        // mapped client
  assert.equal(l.matches('128.0.0.5'), false);              // outside
});

test('NetworkList: bad patterns are configuration errors', () => {
  assert.throws(() => new NetworkList(['1.2.3.4/24']), /non-null host address bits in "1.2.3.4\/24", perhaps you should use "1.2.3.0\/24" instead/);
  assert.throws(() => new NetworkList(['[2001:db8::1]/32']), /non-null host address bits/);  // IPv6 host bits
  assert.throws(() => new NetworkList(['::1/128']), /must be written inside \[\]/);          // unbracketed IPv6
  assert.throws(() => new NetworkList(['2001:db8::/32']), /must be written inside \[\]/);    // looks like type:table
  assert.throws(() => new NetworkList(['1.2.3.0/33']), /bad net\/mask pattern/);             // mask too long
  assert.throws(() => new NetworkList(['1.2.3']), /bad net\/mask pattern/);                  // not an address
  assert.throws(() => new NetworkList(['regexp:/etc/x']), ConfigError);                      // unsupported table
  assert.throws(() => new NetworkList(['/nonexistent/mxguard-networks']), /cannot read pattern file/);
  assert.throws(() => new NetworkList(['!']), /empty pattern/);
});

test('NetworkList: host names match the verified client name', () => {
  const parent = new NetworkList(['example.test']);                                  // mynetworks: parent style
  assert.equal(parent.matches('192.0.2.1', 'mail.example.test'), true);             // subdomain
  assert.equal(parent.matches('192.0.2.1', 'example.test'), true);                  // the name itself
  assert.equal(parent.matches('192.0.2.1', 'badexample.test'), false);              // not a label boundary
  assert.equal(parent.matches('192.0.2.1', 'unknown'), false);                      // unverified name
  assert.equal(parent.matches('192.0.2.1'), false);                                 // no name given
  const explicit = new NetworkList(['example.test', '.other.test'], { parentMatchesSubdomains: false });
  assert.equal(explicit.matches('192.0.2.1', 'mail.example.test'), false);          // needs ".example.test"
  assert.equal(explicit.matches('192.0.2.1', 'mail.other.test'), true);             // explicit subdomain form
});

test('NetworkList: /file/name and tables', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'nets'), '# trusted\n10.0.0.0/8, [fd00::]/8\n!192.168.9.9\n192.168.0.0/16\n');
  const f = new NetworkList([join(dir, 'nets')]);
  assert.equal(f.matches('10.9.8.7'), true);                // from the file
  assert.equal(f.matches('fd12::1'), true);                 // IPv6 from the file
  assert.equal(f.matches('192.168.9.9'), false);            // excluded in the file
  assert.equal(f.matches('192.168.9.8'), true);             // the rest of the /16
  assert.equal(new NetworkList([`!${join(dir, 'nets')}`, '0.0.0.0/0']).matches('10.1.1.1'), false); // !/file/name
  assert.equal(new NetworkList([`!${join(dir, 'nets')}`, '0.0.0.0/0']).matches('11.1.1.1'), true);

  writeFileSync(join(dir, 'hosts'), '192.0.2.7 OK\n');
  const h = new NetworkList([`texthash:${join(dir, 'hosts')}`]);
  assert.equal(h.matches('192.0.2.7'), true);               // hash-style table: exact address key
  assert.equal(h.matches('192.0.2.8'), false);
  const i = new NetworkList(['inline:{ 192.0.2.9=yes }']);
  assert.equal(i.matches('192.0.2.9'), true);               // inline table

  writeFileSync(join(dir, 'nets.cidr'), '192.0.2.0/24 OK\n[2001:db8::]/32 OK\n');
  const c = new NetworkList([`cidr:${join(dir, 'nets.cidr')}`]);
  assert.equal(c.matches('192.0.2.200'), true);             // cidr: table
  assert.equal(c.matches('2001:db8::7'), true);             // IPv6 in a cidr table
  assert.equal(c.matches('198.51.100.1'), false);
});

test('CidrTable: patterns, negation, if/endif, inline form', (t) => {
  const dir = tmp(t);
  const file = join(dir, 'client.cidr');
  writeFileSync(file, [
    '# rule order matters',
    '192.168.1.1        OK',
    '192.168.0.0/16     REJECT',
    '2001:db8::1        OK',
    '[2001:db8::]/32    REJECT',
    'if 10.0.0.0/8',
    'if !10.1.0.0/16',
    '10.0.0.0/8         inner',
    'endif',
    'endif',
    '!172.16.0.0/12     not-private',
    '',
  ].join('\n'));
  const c = CidrTable.open(`cidr:${file}`);
  assert.equal(c.lookup('192.168.1.1'), 'OK');              // specific entry first
  assert.equal(c.lookup('192.168.7.7'), 'REJECT');          // then the /16
  assert.equal(c.lookup('2001:db8::1'), 'OK');              // IPv6 exact
  assert.equal(c.lookup('2001:0db8:0::0001'), 'OK');        // compared in binary
  assert.equal(c.lookup('2001:db8::2'), 'REJECT');          // bracketed network
  assert.equal(c.lookup('10.2.0.1'), 'inner');              // inside if, outside the if !
  assert.equal(c.lookup('10.1.0.1'), 'not-private');        // excluded by if !, falls to !172.16/12
  assert.equal(c.lookup('172.16.0.1'), undefined);          // matches nothing
  assert.equal(c.lookup('::ffff:192.168.1.1'), 'OK');       // mapped IPv4 key
  assert.equal(c.lookup('example.test'), undefined);        // not an address
  const inline = CidrTable.open('cidr:{ { 192.0.2.0/24 a }, { 0.0.0.0/0 b } }');
  assert.equal(inline.lookup('192.0.2.1'), 'a');            // Postfix 3.7 inline form
  assert.equal(inline.lookup('198.51.100.1'), 'b');
  writeFileSync(file, 'if 10.0.0.0/8\n10.0.0.0/8 x\n');
  assert.throws(() => CidrTable.open(`cidr:${file}`), /IF has no matching ENDIF/);
  writeFileSync(file, '10.0.0.1/8 x\n');
  assert.throws(() => CidrTable.open(`cidr:${file}`), /non-null host address bits/);
  writeFileSync(file, 'endif\n');
  assert.throws(() => CidrTable.open(`cidr:${file}`), /ENDIF without matching IF/);
});

test('DomainList: string style ($mydestination, virtual domains)', () => {
  const l = new DomainList('mydestination', ['example.test', 'Localhost', '[192.0.2.1]'], { style: 'string' });
  assert.equal(l.matches('example.test'), true);            // exact
  assert.equal(l.matches('EXAMPLE.test'), true);            // case-insensitive
  assert.equal(l.matches('sub.example.test'), false);       // no subdomains
  assert.equal(l.matches('localhost'), true);               // pattern case folded
  assert.equal(l.matches('[192.0.2.1]'), true);             // literal listed as text
  assert.equal(l.matches(''), false);                       // empty name
});

test('DomainList: domain style ($relay_domains), parent_domain_matches_subdomains', () => {
  const parent = new DomainList('relay_domains', ['example.test', '.dot.test', '!bad.other.test', 'other.test'], { style: 'domain', parentMatchesSubdomains: true });
  assert.equal(parent.matches('example.test'), true);       // the domain
  assert.equal(parent.matches('a.b.example.test'), true);   // subdomains (parent style)
  assert.equal(parent.matches('badexample.test'), false);   // not a label boundary
  assert.equal(parent.matches('x.dot.test'), false);        // Postfix: ".dot.test" matches nothing in parent style
  assert.equal(parent.matches('bad.other.test'), false);    // excluded first
  assert.equal(parent.matches('x.bad.other.test'), false);  // exclusion covers its subdomains too
  assert.equal(parent.matches('good.other.test'), true);
  const explicit = new DomainList('relay_domains', ['example.test', '.dot.test'], { style: 'domain', parentMatchesSubdomains: false });
  assert.equal(explicit.matches('a.example.test'), false);  // needs ".example.test"
  assert.equal(explicit.matches('example.test'), true);
  assert.equal(explicit.matches('x.dot.test'), true);       // explicit subdomain pattern
  assert.equal(explicit.matches('dot.test'), false);        // but not the parent itself
});

test('DomainList: tables, with parent lookups in domain style', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'relay'), 'example.test OK\n.dot.test OK\n');
  const parent = new DomainList('relay_domains', [`texthash:${join(dir, 'relay')}`], { style: 'domain', parentMatchesSubdomains: true });
  assert.equal(parent.matches('a.example.test'), true);     // key example.test (parent)
  assert.deepEqual(parent.match('a.example.test'), { pattern: `texthash:${join(dir, 'relay')}`, negated: false, key: 'example.test' });
  assert.equal(parent.matches('x.dot.test'), false);        // .dot.test keys are not tried in parent style
  const explicit = new DomainList('relay_domains', [`texthash:${join(dir, 'relay')}`], { style: 'domain', parentMatchesSubdomains: false });
  assert.equal(explicit.matches('a.example.test'), false);  // needs .example.test key
  assert.equal(explicit.matches('x.dot.test'), true);       // key .dot.test
  const str = new DomainList('virtual_mailbox_domains', ['inline:{ example.test=1 }'], { style: 'string' });
  assert.equal(str.matches('example.test'), true);          // string style: the whole domain only
  assert.equal(str.matches('a.example.test'), false);
  assert.throws(() => new DomainList('relay_domains', ['cidr:/x'], { style: 'domain' }), /cannot match domain names/);
});
