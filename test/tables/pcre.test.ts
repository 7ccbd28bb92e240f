import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/types.js';
import { clearTableCache, openTable, PatternTable, setTableWarningHandler } from '../../src/tables/index.js';
import { differ, needPostmap, postmapQuery, tmp, write } from './helpers.js';

/** One table per entry, so that each rule is checked on every key. */
const TABLES: readonly (readonly string[])[] = [
  ['/^postmaster@/ OK'],
  ['/^(.*)@(.*)$/ $2 $1 $$'],
  ['/^\\d{3}-\\d{4}$/ phone'],
  ['/^(?:ab)+$/ non-capturing'],
  ['/^(?<user>[^@]+)@/ named:$1'],
  ['/^(?P<u>[^@]+)@(?P=u)\\./ python-named:$1'],
  ['/^ABC$/i case-sensitive'],
  ['/ a b c /x extended'],
  ['/^a+?(b*)$/ lazy:$1'],
  ['/^(a+)/U ungreedy:$1', '/^(b+?)/U greedy:$1'],
  ['/b/A anchored'],
  ['/^[[:alpha:]]+$/ posix-alpha'],
  ['/^[[:^digit:]]+$/ not-digit'],
  ['/\\bfoo\\b/ word-boundary'],
  ['/^\\Qa.b\\E$/ quoted'],
  ['/^(\\w)\\w*\\1$/ backref:$1'],
  ['/^[\\w.-]+@[\\w-]+\\.[a-z]{2,}$/ email'],
  ['/^\\x41\\x{42}C$/ hex'],
  ['/^(?-i)abc$/ inline-case-sensitive'],
  ['/^a(?-s).b$/ mid-option', '/^(?x) x y $/ inline-extended', '/^(?m:b$)/ scoped-multiline'],
  ['/^[]a]+$/ bracket-edge'],
  ['/(?#a comment)^zz$/ comment'],
  ['/^a\\Sb$/ non-space'],
  ['#^/path/# hash-delimiter'],
  ['!/\\.com$/ not-com'],
  ['/^(?=.*\\d)(?=.*[a-z]).{6,}$/ lookahead'],
  ['/^(a)?b$/ optional:[$1]'],
  ['/c$/E dollar-end-only', '/c$/ dollar'],
  ['/^b/m multiline'],
  ['/^a.b$/ dotall', '/^a.b$/s no-dotall'],
  ['/^a.b$/s no-dotall'],
  ['/\\Aa.*z\\z/ a-to-z', '/\\Ax\\Z/ x-end'],
  ['/^\\h*\\S+\\s+\\S+$/ two-words'],
  ['/^a{2,3}$/ interval', '/^b{,2}$/ literal-brace'],
  ['/^(a|ab)(c|bcd)$/ alt:$1:$2'],
  ['/^[\\d.]+$/ digits-dots'],
  ['/^[^\\n]*\\t/ tab'],
  [
    'if /@example\\.com$/',
    '/^admin@/ admin',
    '!/^x/ not-x',
    'endif',
    '/\\./ fallback',
  ],
  [
    'if !/^[a-m]/',
    'if /\\.(com|net)$/',
    '/^(.*)\\.(com|net)$/ late-$2',
    'endif',
    '/./ late-other',
    'endif',
    '/^([a-m])/ early-$1',
  ],
];

const KEYS: readonly string[] = [
  'postmaster@example.com', 'PostMaster@x', 'user@example.com', 'Bob@Example.Org', '555-1234', '55-1234',
  'abab', 'aba', 'ab', 'bob@bob.example', 'bob@alice.example', 'ABC', 'abc', 'Abc', 'abbb', 'aaa', 'bbb',
  'ba', 'xb', 'Hello', 'hello1', 'a foo b', 'foobar', 'a.b', 'axb', 'anna', 'otto', 'x.y-z@mail.example.com',
  'ABC', ']a]', 'zz', 'a-b', 'a b', '/path/x', 'foo.com', 'foo.org', 'pass12', 'password', 'b', 'xb',
  'abc\n', 'ab\nc', 'a\nb', 'x\n', 'a to z', 'one two', '  one two', '1.2.3.4', 'abcd', 'acd', 'aaaa',
  'bb', 'b{,2}', 'admin@example.com', 'xadmin@example.com', 'x@example.com', 'zed.net', 'q.org', 'a\tb',
];

test('pcre: tables agree with postmap -q (differential)', (t) => {
  if (!needPostmap(t, 'pcre')) return;
  const dir = tmp(t);
  const bad: string[] = [];
  let found = 0;
  TABLES.forEach((lines, n) => {
    const spec = `pcre:${write(dir, `t${n}.pcre`, lines)}`;
    const table = PatternTable.open(spec, 'pcre');
    bad.push(...differ(table, spec, KEYS));
    found += postmapQuery(spec, KEYS).size;
  });
  assert.deepEqual(bad, []);
  assert.ok(found > 150, `only ${found} hits: the keys do not exercise the tables`);
  console.log(`pcre differential: ${TABLES.length} tables x ${KEYS.length} keys, ${found} hits`);
});

test('pcre: flags, substitution and if/endif', () => {
  const table = openTable('pcre:{ {/^(.+)@example\\.com$/ local=$1}, {if /\\.test$/}, {/^x/ x-test}, {endif}, {/c$/E end-only}, {/^b/A anchored} }');
  assert.equal(table.pattern, true);
  assert.equal(table.lookup('Alice@EXAMPLE.com'), 'local=Alice');           // case-insensitive, case kept in $1
  assert.equal(table.lookup('xy.test'), 'x-test');                           // inside if
  assert.equal(table.lookup('xy.org'), undefined);                           // if does not match
  assert.equal(table.lookup('abc'), 'end-only');
  assert.equal(table.lookup('abc\n'), undefined);                            // E: $ not before a final newline
  assert.equal(table.lookup('bz'), 'anchored');
  assert.equal(table.lookup('ab'), undefined);                               // A: match must start at 0
  clearTableCache();
});

test('pcre: the obsolete X flag is ignored with a warning, as Postfix does', () => {
  const seen: string[] = [];
  const prev = setTableWarningHandler((m) => seen.push(m));
  try {
    const table = PatternTable.open('pcre:{ {/^a$/X yes} }', 'pcre');
    assert.equal(table.lookup('a'), 'yes');
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, /obsolete regexp option "X"/);
  } finally {
    setTableWarningHandler(prev);
  }
});

test('pcre: what JavaScript cannot express is refused with file and line', (t) => {
  const dir = tmp(t);
  const cases: [string, RegExp][] = [
    ['/a++/ x', /possessive/],
    ['/(?>a)/ x', /atomic groups/],
    ['/(a)(?1)/ x', /recursion/],
    ['/(?(1)a|b)/ x', /conditional/],
    ['/a\\Kb/ x', /\\K cannot be expressed/],
    ['/\\p{Lu}/ x', /Unicode properties/],
    ['/a(?-i)b/ x', /only supported at the start/],
    ['/(*FAIL)/ x', /backtracking control verbs/],
    ['/a\\q/ x', /unrecognized character follows/],
    ['/(a/ x', /missing closing parenthesis/],
    ['/a)/ x', /unmatched closing parenthesis/],
    ['/[a/ x', /missing terminating \]/],
  ];
  for (const [rule, why] of cases) {
    const file = write(dir, 'bad.pcre', ['/ok/ fine', rule]);
    assert.throws(() => PatternTable.open(`pcre:${file}`, 'pcre'), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, why);
      assert.equal(e.file, file);
      assert.equal(e.line, 2);
      return true;
    }, rule);
  }
});
