import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PasswdFile } from '../../src/auth/index.js';
import { cliMain, runCli, type RunCliOptions } from '../helpers/run-cli.js';

const entry = fileURLToPath(new URL('./passwd-cli-entry.js', import.meta.url));
const passwd = (args: string[], opts: RunCliOptions = {}) => runCli(['passwd', ...args], { entry, ...opts });

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mxguard-passwd-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('add reads the password from stdin and uses ./var/passwd without --config', async (t) => {
  const cwd = await tempDir(t);
  const file = join(cwd, 'var', 'passwd');
  let r = await passwd(['add', 'alice'], { cwd, input: 's3cret\nignored second line\n' });
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `added user alice to ${file}\n`);
  const pw = new PasswdFile(file);
  assert.equal(await pw.verify('alice', 's3cret'), true);

  // CRLF input and no trailing newline are both one line.
  r = await passwd(['add', 'alice'], { cwd, input: 'n3w\r\n' });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `updated user alice in ${file}\n`);
  assert.equal(await pw.verify('alice', 'n3w'), true);
  r = await passwd(['add', 'bob'], { cwd, input: 'no-newline' });
  assert.equal(r.code, 0);
  assert.equal(await pw.verify('bob', 'no-newline'), true);

  r = await passwd(['remove', 'alice'], { cwd });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `removed user alice from ${file}\n`);
  assert.equal(await pw.verify('alice', 'n3w'), false);
});

test('exit status: 1 for an unknown user, 2 for a bad name or an empty password', async (t) => {
  const cwd = await tempDir(t);
  let r = await passwd(['remove', 'nobody'], { cwd });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no user nobody in .*var\/passwd/);
  assert.equal(r.stdout, '');

  r = await passwd(['add', 'bad:name'], { cwd, input: 'pw\n' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid user name "bad:name": .*":"/);
  r = await passwd(['remove', 'bad name'], { cwd });
  assert.equal(r.code, 2);

  r = await passwd(['add', 'alice'], { cwd, input: '\nsecond\n' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /empty password/);
  r = await passwd(['add', 'alice'], { cwd });  // stdin closed at once
  assert.equal(r.code, 2);
  assert.equal(existsSync(join(cwd, 'var', 'passwd')), false);
});

test('--config DIR takes mxguard_passwd_file from DIR/main.cf; a bad DIR is a config error', async (t) => {
  const cwd = await tempDir(t);
  const conf = join(cwd, 'etc');
  await mkdir(conf);
  const file = join(cwd, 'state', 'auth', 'users');
  await writeFile(join(conf, 'main.cf'), `mxguard_state_directory = ${join(cwd, 'state')}\nmxguard_passwd_file = $mxguard_state_directory/auth/users\n`);
  await writeFile(join(conf, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  let r = await passwd(['add', 'carol', '-c', conf], { cwd, input: 'pw-c\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `added user carol to ${file}\n`);
  assert.equal(await new PasswdFile(file).verify('carol', 'pw-c'), true);

  r = await passwd(['add', 'carol', '--config', join(cwd, 'missing')], { cwd, input: 'pw\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\/main\.cf/);
});

test('five CLI processes adding at once lose no entry', async (t) => {
  const cwd = await tempDir(t);
  const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
  const results = await Promise.all(users.map((u) => passwd(['add', u], { cwd, input: `pw-${u}\n` })));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const file = join(cwd, 'var', 'passwd');
  const pw = new PasswdFile(file);
  for (const u of users) assert.equal(await pw.verify(u, `pw-${u}`), true, u);
  const text = await readFile(file, 'utf8');
  assert.equal(text.split('\n').filter((l) => /^u\d:/.test(l)).length, 5);
});

test('the full command line offers passwd too', async (t) => {
  if (!existsSync(cliMain)) {
    t.skip('dist/src/cli/main.js is not built yet');
    return;
  }
  const cwd = await tempDir(t);
  const r = await runCli(['passwd', 'add', 'dave'], { cwd, input: 'pw-d\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^added user dave to /);
});
