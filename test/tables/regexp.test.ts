import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/types.js';
import { openTable, clearTableCache, PatternTable, setTableWarningHandler } from '../../src/tables/index.js';
import { differ, needPostmap, postmapQuery, tmp, write } from './helpers.js';

/** One table per entry, so that each rule is checked on every key (first match would hide later rules). */
const TABLES: readonly (readonly string[])[] = [
  ['/^postmaster@/ OK'],
  ['/[%!@].*[%!@]/ 550 Sender-specified routing rejected'],
  ['/^(.*)-outgoing@(.*)$/ 550 Use ${1}@${2} instead'],
  ['/^(.*)@(.*)$/ user=$1 dom=$(2) $$'],
  ['/^User@Example\\.COM$/i exact-case'],
  ['/^[[:alpha:]]+[[:digit:]]{2,3}$/ alpha-digits'],
  ['/^[^[:space:]@]+@[[:alnum:].-]+$/ addr'],
  ['/\\<spam\\>/ word-spam'],
  ['/^a\\(b\\)*c$/x bre-group:$1'],
  ['/^a+b?$/x bre-literal'],
  ['/^a\\{2\\}$/x bre-interval'],
  ['/^(b)+?c$/ stacked:$1'],
  ['/^x{2}y{1,}z{,2}$/ intervals'],
  ['/^[]a-]+$/ bracket-edge'],
  ['/^[\\.]+$/ backslash-in-bracket'],
  ['#^/path/to/# hash-delimiter'],
  ['|^a\\|b$| escaped-bar-delimiter'],
  ['!/\\.example\\.com$/ not-example'],
  ['/^\\w+\\W\\w+$/ gnu-word'],
  ['/^[[:upper:]]+$/ upper', '/^[[:lower:]]+$/i lower-cs'],
  ['/^a.b$/ dot'],
  ['/^(x)(y)?z$/ opt:[$2]'],
  ['/^\\$[0-9]+$/ dollar'],
  ['/^a|b$/ alt-anchors'],
  ['/^(foo|bar)\\.(com|net)$/ $2-$1'],
  ['/^[a-c]{2}[^a-c]$/ ranges'],
  ['/(.)\\1/ backref:$1'],
  ['/^[[:punct:]]+$/ punct'],
  ['/^a/!/b$/ a-not-b'],
  ['/^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)$/ $10$1'],
  ['/a\\/b/ escaped-slash'],
  ['/^[[:xdigit:]]+$/ hex', '/^[[:blank:]]/ blank'],
  ['/^a$|^b$/m m-flag'],
  ['/^ab$/i case-sensitive', '/^AB$/i upper-only'],
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
  [
    'IF/^a/',
    '/b/ ab',
    'ENDIF',
    '/^(a)/',
    ' continued-$1',
  ],
];

const KEYS: readonly string[] = [
  'postmaster@example.com', 'Postmaster@Example.COM', 'a@b@c', 'a%b@c', 'list-outgoing@example.com',
  'User@Example.COM', 'user@example.com', 'abc12', 'abc1234', 'ABC12', 'foo spam bar', 'spammer',
  'abc', 'abbbc', 'ac', 'a+b?', 'aa', 'aaaa', 'bbc', 'bc', 'xxyyz', 'xxyyzzz', ']a-', '...', '\\..',
  '/path/to/file', 'a|b', 'admin@example.com', 'xadmin@example.com', 'x@example.com', 'foo.bar',
  'a/b', 'ABC', 'a.b', 'a-b', 'xz', 'xyz', '$100', 'ab', 'foo.com', 'bar.net', 'zed.net', 'abd',
  'aab', 'abcdefghij', 'hello', '!!!', 'a@b.c.d', 'a b c', 'Bob@example.org', 'DEADbeef',
  ' x', 'a\nb', 'b\na', 'q.org', 'x\ny',
];

test('regexp: tables agree with postmap -q (differential)', (t) => {
  if (!needPostmap(t, 'regexp')) return;
  const dir = tmp(t);
  const bad: string[] = [];
  let found = 0;
  TABLES.forEach((lines, n) => {
    const spec = `regexp:${write(dir, `t${n}.re`, lines)}`;
    const table = PatternTable.open(spec, 'regexp');
    bad.push(...differ(table, spec, KEYS));
    found += postmapQuery(spec, KEYS).size;
  });
  assert.deepEqual(bad, []);
  assert.ok(found > 150, `only ${found} hits: the keys do not exercise the tables`);
  console.log(`regexp differential: ${TABLES.length} tables x ${KEYS.length} keys, ${found} hits`);
});

test('regexp: first match wins, substitution, case folding', (t) => {
  const file = write(tmp(t), 'access.re', [
    '# comment',
    '/^(.*)-outgoing@(.*)$/  550 Use ${1}@${2} instead',
    '/^postmaster@/          OK',
    '/^(.)(.)?$/             one=$1 two=[$2]',
    '/@/                     has-at',
  ]);
  const table = openTable(`regexp:${file}`);
  assert.equal(table.pattern, true);                                         // sees full keys only
  assert.equal(table.lookup('List-outgoing@Example.com'), '550 Use List@Example.com instead'); // case kept in $n
  assert.equal(table.lookup('POSTMASTER@x'), 'OK');                          // case-insensitive by default
  assert.equal(table.lookup('postmaster-outgoing@x'), '550 Use postmaster@x instead'); // first rule wins
  assert.equal(table.lookup('a'), 'one=a two=[]');                           // unmatched group is empty
  assert.equal(table.lookup('nothing'), undefined);
  clearTableCache();
});

test('regexp: inline form with nested braces', () => {
  const table = openTable('regexp:{ {/^a{2}$/ two}, { /^(b)$/ got-$1 } }');
  assert.equal(table.lookup('aa'), 'two');
  assert.equal(table.lookup('b'), 'got-b');
  assert.equal(table.lookup('a'), undefined);
  clearTableCache();
});

test('regexp: a malformed rule is skipped with a warning naming file and line, as Postfix does', (t) => {
  const dir = tmp(t);
  const warnings: string[] = [];
  const prev = setTableWarningHandler((m) => warnings.push(m));
  t.after(() => setTableWarningHandler(prev));
  const skipped: [string[], RegExp, number][] = [
    [['/a/ x', '/b x'], /no closing regexp delimiter/, 2],
    [['/a/q x'], /unknown regexp option "q"/, 1],
    [['/a/'], /no replacement text/, 1],
    [['/a/ $1'], /out of range replacement index "1"/, 1],
    [['/(a)/ $0'], /out-of-range replacement index "0"/, 1],
    [['/(a)/ $1x'], /non-numeric replacement index "1x"/, 1],
    [['/(a)/ cost $ 5'], /empty macro name/, 1],
    [['/(a)/ ${1'], /truncated macro reference/, 1],
    [['!/(a)/ $1'], /negative match/, 1],
    [['/x/ y', 'endif'], /ENDIF without matching IF/, 2],
    [['/x/ y', 'if /a/', '/b/ c'], /IF has no matching ENDIF/, 2],
    [['if /a/', ' /b/ c', 'endif'], /extra text after IF/, 1],
    [['foo bar'], /unrecognized request/, 1],
  ];
  for (const [lines, why, line] of skipped) {
    warnings.length = 0;
    const file = write(dir, 'bad.re', ['/^zzz$/ last', ...lines]);
    const table = PatternTable.open(`regexp:${file}`, 'regexp');
    assert.equal(table.lookup('zzz'), 'last', lines.join(' | '));
    assert.ok(warnings.some((w) => why.test(w) && w.includes(`${file}, line ${line + 1}`)), `${lines.join(' | ')}: ${warnings.join('; ')}`);
  }
});

test('regexp: a pattern that cannot be compiled is a ConfigError with file and line', (t) => {
  const dir = tmp(t);
  const cases: [string[], RegExp, number][] = [
    [['/*a/ x'], /Invalid preceding regular expression/, 1],
    [['/^a*\\{2\\}$/x x'], /Invalid preceding regular expression/, 1],
    [['/a{2,1}/ x'], /Invalid content/, 1],
    [['/a{x/ x'], /Unmatched/, 1],
    [['/[z-a]/ x'], /Invalid range end/, 1],
    [['/[[:alfa:]]/ x'], /Invalid character class name/, 1],
    [['/(a/ x'], /Unmatched \(/, 1],
    [['/\\d+/ x'], /undefined in a POSIX regular expression \(use \[0-9\]/, 1],
    [['/(a)\\2/ x'], /Invalid back reference/, 1],
    [['  /a/ x'], /must not start with whitespace/, 1],
  ];
  for (const [lines, why, line] of cases) {
    const file = write(dir, 'bad.re', lines);
    assert.throws(() => PatternTable.open(`regexp:${file}`, 'regexp'), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, why);
      assert.equal(e.file, file, e.message);
      assert.equal(e.line, line, e.message);
      return true;
    }, lines.join(' | '));
  }
});

test('regexp: POSIX translation details', () => {
  const t = (rules: string) => PatternTable.open(`regexp:{ ${rules} }`, 'regexp');
  assert.equal(t('{/^a.b$/ y}').lookup('a\nb'), 'y');                        // without m, . matches a newline
  assert.equal(t('{/^a.b$/m y}').lookup('a\nb'), undefined);                 // with m it does not
  assert.equal(t('{/^b$/m y}').lookup('a\nb'), 'y');                         // ^ and $ at line breaks
  assert.equal(t('{/^b$/ y}').lookup('a\nb'), undefined);
  assert.equal(t('{/^[^x]$/m y}').lookup('\n'), undefined);                 // non-matching list excludes \n with m
  assert.equal(t('{/^[^x]$/ y}').lookup('\n'), 'y');
  assert.equal(t('{/^(a+)+?$/ $1}').lookup('aaa'), 'aaa');                   // stacked, not lazy
  assert.equal(t('{/^a\\{2\\}$/x y}').lookup('aa'), 'y');                    // BRE interval
  assert.equal(t('{/^a{2}$/x y}').lookup('a{2}'), 'y');                      // BRE: braces are literal
  assert.equal(t('{/^*a$/x y}').lookup('*a'), 'y');                          // BRE: leading * is literal
  assert.equal(t('{/^[[.-.]]$/ y}').lookup('-'), 'y');                       // collating element
  assert.equal(t('{/a\\>/ y}').lookup('a b'), 'y');                          // end of word
  assert.equal(t('{/a\\>/ y}').lookup('ab'), undefined);
  assert.equal(t('{/^a\\`/ y}').lookup('a'), undefined);                     // \` is start of subject
});
