import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { addUser, PasswdError, PasswdFile, removeUser } from '../../src/auth/index.js';
import type { ConfigWarning } from '../../src/config/types.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mxguard-passwd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const LINE = /^[^:]+:\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

test('add, verify, wrong password, unknown user', async (t) => {
  const file = join(await tempDir(t), 'passwd');
  assert.equal(await addUser(file, 'alice', 'correct horse'), 'added');
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify('alice', 'correct horse'), true);
  assert.equal(await pw.verify('alice', 'correct horse '), false);  // one trailing space
  assert.equal(await pw.verify('alice', ''), false);
  assert.equal(await pw.verify('Alice', 'correct horse'), false);   // names are case-sensitive
  assert.equal(await pw.verify('bob', 'correct horse'), false);
  assert.equal(await pw.verify('a:b', 'x'), false);                 // not a valid name at all
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, LINE);
  assert.ok(lines[0]!.startsWith('alice:'));
});

test('a second add updates the entry in place; the old password stops working', async (t) => {
  const file = join(await tempDir(t), 'passwd');
  await writeFile(file, '# site users\nzed:$scrypt$bogus\n\n');
  await addUser(file, 'alice', 'one');
  await addUser(file, 'bob', 'two');
  const pw = new PasswdFile(file, { onWarning: () => {} });
  assert.equal(await pw.verify('alice', 'one'), true);
  assert.equal(await addUser(file, 'alice', 'three'), 'updated');
  // The instance notices the rewrite (new inode) without being told.
  assert.equal(await pw.verify('alice', 'one'), false);
  assert.equal(await pw.verify('alice', 'three'), true);
  assert.equal(await pw.verify('bob', 'two'), true);
  const text = await readFile(file, 'utf8');
  assert.equal(text.match(/^alice:/gm)?.length, 1);
  // Comments, blank lines and other lines (even malformed ones) survive, in order.
  assert.deepEqual(text.split('\n').map((l) => l.split(':')[0]), ['# site users', 'zed', '', 'alice', 'bob', '']);
});

test('remove deletes the user and reports whether there was one', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'passwd');
  assert.equal(await removeUser(file, 'alice'), false);  // no file yet: no users
  await addUser(file, 'alice', 'pw-a');
  await addUser(file, 'bob', 'pw-b');
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify('alice', 'pw-a'), true);
  assert.equal(await removeUser(file, 'alice'), true);
  assert.equal(await pw.verify('alice', 'pw-a'), false);
  assert.equal(await pw.verify('bob', 'pw-b'), true);
  assert.equal(await removeUser(file, 'alice'), false);
});

test('a missing file means no users, and the file is picked up once it appears', async (t) => {
  const file = join(await tempDir(t), 'passwd');
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify('alice', 'pw'), false);
  await addUser(file, 'alice', 'pw');
  assert.equal(await pw.verify('alice', 'pw'), true);
  await rm(file);
  assert.equal(await pw.verify('alice', 'pw'), false);
});

test('ten concurrent adds all land in the file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'passwd');
  const users = Array.from({ length: 10 }, (_, i) => `user${i}`);
  const results = await Promise.all(users.map((u) => addUser(file, u, `pw-${u}`)));
  assert.deepEqual(results, users.map(() => 'added'));
  const pw = new PasswdFile(file);
  for (const u of users) assert.equal(await pw.verify(u, `pw-${u}`), true, u);
  // Atomic replacement leaves neither temporary files nor the lock behind; the file is 0600.
  assert.deepEqual(await readdir(dir), ['passwd']);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('malformed lines are reported with file:line and never match; the rest still works', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'passwd');
  await addUser(file, 'good', 'pw-good');
  const goodLine = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith('good:'))!;
  const hash = goodLine.slice('good:'.length);
  await writeFile(file, [
    '# comment',                                   // 1
    'no colon here',                               // 2
    'bad:$scrypt$ln=14,r=8,p=1$!!!$???',           // 3 not base64
    'huge:' + hash.replace('ln=14', 'ln=30'),      // 4 cost out of bounds
    'md5:$1$abc$def',                              // 5 another scheme
    goodLine,                                      // 6
    'good:' + hash.replace('ln=14', 'ln=13'),      // 7 duplicate: ignored
    '   ',                                         // 8 blank
  ].join('\n') + '\n');
  const warnings: ConfigWarning[] = [];
  const pw = new PasswdFile(file, { onWarning: (w) => warnings.push(w) });
  assert.equal(await pw.verify('good', 'pw-good'), true);
  assert.equal(await pw.verify('bad', 'anything'), false);
  assert.equal(await pw.verify('huge', 'pw-good'), false);
  assert.equal(await pw.verify('md5', 'x'), false);
  assert.deepEqual(warnings.map((w) => `${w.file}:${w.line}`), [2, 3, 4, 5, 7].map((n) => `${file}:${n}`));
  assert.match(warnings[1]!.message, /user "bad".*base64/);
  assert.match(warnings[2]!.message, /256 MiB/);
  assert.match(warnings[4]!.message, /duplicate/);
  assert.equal(pw.warnings.length, 5);
  // Warnings come once per load, not once per check.
  await pw.verify('good', 'pw-good');
  assert.equal(warnings.length, 5);
  // Setting the password of a user with a malformed entry replaces that entry.
  await addUser(file, 'bad', 'fixed');
  assert.equal(await pw.verify('bad', 'fixed'), true);
});

test('user names and passwords are validated with clear messages', async (t) => {
  const file = join(await tempDir(t), 'passwd');
  const badUsers: [string, RegExp][] = [
    ['', /empty/],
    ['a:b', /":"/],
    ['a b', /white space/],
    ['a\tb', /control|white space/],
    ['a\u0001b', /control/],
    ['a\u00a0b', /white space/],
    ['#root', /comment/],
    ['x'.repeat(256), /255/],
  ];
  for (const [user, why] of badUsers) {
    await assert.rejects(addUser(file, user, 'pw'), (e: unknown) => {
      assert.ok(e instanceof PasswdError);
      assert.equal(e.kind, 'invalid-user');
      assert.match(e.message, why);
      return true;
    }, JSON.stringify(user));
    await assert.rejects(removeUser(file, user), PasswdError);
  }
  await assert.rejects(addUser(file, 'alice', ''), { name: 'PasswdError', kind: 'invalid-password', message: /empty/ });
  await assert.rejects(addUser(file, 'alice', 'a\0b'), { kind: 'invalid-password', message: /NUL/ });
  // The longest allowed name and a non-ASCII one work.
  const long = 'ü'.repeat(255);
  assert.equal(await addUser(file, long, 'pw'), 'added');
  assert.equal(await addUser(file, 'jürgen@example.test', 'pässwörd'), 'added');
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify(long, 'pw'), true);
  assert.equal(await pw.verify('jürgen@example.test', 'pässwörd'), true);
});

test('a stale lock (dead pid, or old and empty) is broken; a write then succeeds', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'passwd');
  // A pid that surely is not running: a child that has already exited.
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(child.stdout.trim());
  await writeFile(`${file}.lock`, `${deadPid}\n`);
  assert.equal(await addUser(file, 'alice', 'pw'), 'added');
  await writeFile(`${file}.lock`, '');
  const old = new Date(Date.now() - 3600_000);
  await utimes(`${file}.lock`, old, old);
  assert.equal(await addUser(file, 'bob', 'pw'), 'added');
  assert.deepEqual(await readdir(dir), ['passwd']);
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify('alice', 'pw'), true);
  assert.equal(await pw.verify('bob', 'pw'), true);
});

test('a write into a missing directory fails with the path in the message', async (t) => {
  const file = join(await tempDir(t), 'no', 'such', 'passwd');
  await assert.rejects(addUser(file, 'alice', 'pw'), { name: 'PasswdError', kind: 'io', message: /no\/such\/passwd\.lock/ });
});

test('a file with CRLF line ends and no final newline is read', async (t) => {
  const file = join(await tempDir(t), 'passwd');
  await addUser(file, 'alice', 'pw');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.trimEnd().split('\n').join('\r\n'));
  const warnings: ConfigWarning[] = [];
  const pw = new PasswdFile(file, { onWarning: (w) => warnings.push(w) });
  assert.equal(await pw.verify('alice', 'pw'), true);
  assert.deepEqual(warnings, []);
});
