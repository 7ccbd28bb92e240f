import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMainCf, parseMasterCf, logicalLines } from '../../src/config/parse.js';
import { expand } from '../../src/config/expand.js';
import { parseList, parseTime } from '../../src/config/values.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/types.js';
import { renderReference } from '../../src/config/reference.js';
import { runCli, repoRoot } from '../helpers/run-cli.js';

function confDir(t: { after: (f: () => void) => void }, main: string, master?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-cf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.cf'), main);
  if (master !== undefined) writeFileSync(join(dir, 'master.cf'), master);
  return dir;
}

test('main.cf: comments, blank lines and continuation lines', () => {
  const p = parseMainCf('# comment\nmyhostname = mx.example.test\n\nmynetworks = 127.0.0.0/8,\n    10.0.0.0/8\n  # indented comment\n\t192.168.0.0/16\nrelay_domains=\n', 'main.cf');
  assert.equal(p.get('myhostname')?.value, 'mx.example.test');
  assert.equal(p.get('myhostname')?.line, 2);
  assert.equal(p.get('mynetworks')?.value, '127.0.0.0/8, 10.0.0.0/8 192.168.0.0/16');
  assert.equal(p.get('mynetworks')?.line, 4);
  assert.equal(p.get('relay_domains')?.value, '');
});

test('main.cf: a line without "=" is an error with file and line', () => {
  assert.throws(() => parseMainCf('a = b\nthis is wrong\n', '/etc/x/main.cf'), (e: unknown) => e instanceof ConfigError && /main\.cf:2: missing '='/.test(e.message));
  assert.throws(() => logicalLines('  leading = space\n', 'f'), /f:1: logical line must not start with whitespace/);
});

test('$name expansion: plain, braces, parentheses, conditionals, $$ and loops', () => {
  const vals: Record<string, string> = { a: 'A', b: '$a-x', empty: '', loop1: '$loop2', loop2: '$loop1' };
  const look = (n: string) => vals[n];
  assert.equal(expand('$a ${a} $(a) $b', look), 'A A A A-x');
  assert.equal(expand('${a?set}|${empty?set}|${a:unset}|${empty:unset}', look), 'set|||unset');
  assert.equal(expand('${a?{yes}:{no}} ${empty?{yes}:{no}}', look), 'yes no');
  assert.equal(expand('cost $$5 ${missing}.', look), 'cost $5 .');
  assert.throws(() => expand('$loop1', look), /recursive parameter expansion/);
});

test('lists: commas and/or whitespace, braces keep spaces', () => {
  assert.deepEqual(parseList('a, b c,,d\te'), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(parseList('check_sender_access inline:{ a=b, c=d }, permit'), ['check_sender_access', 'inline:{ a=b, c=d }', 'permit']);
  assert.equal(parseTime('5d', 's'), 432000);
  assert.equal(parseTime('300', 's'), 300);
  assert.equal(parseTime('2', 'h'), 7200);
  assert.equal(parseTime('soon', 's'), undefined);
});

test('master.cf: service lines, -o overrides (both spellings, braces), continuation', () => {
  const s = parseMasterCf([
    '# service type  private unpriv  chroot  wakeup  maxproc command + args',
    'smtp      inet  n       -       y       -       -       smtpd',
    'submission inet n       -       y       -       -       smtpd',
    '  -o syslog_name=postfix/submission',
    '  -o smtpd_tls_security_level=encrypt',
    '  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }',
    '127.0.0.1:2525 inet n - n - - smtpd -osmtpd_helo_required=yes',
    'pickup    unix  n       -       y       60      1       pickup',
  ].join('\n'), 'master.cf');
  assert.equal(s.length, 4);
  assert.equal(s[1]!.overrides.get('syslog_name'), 'postfix/submission');
  assert.equal(s[1]!.overrides.get('smtpd_client_restrictions'), 'permit_sasl_authenticated, reject');
  assert.equal(s[2]!.name, '127.0.0.1:2525');
  assert.equal(s[2]!.overrides.get('smtpd_helo_required'), 'yes');
  assert.throws(() => parseMasterCf('smtp inet n - y smtpd\n', 'master.cf'), /master\.cf:1: expected at least 8 fields/);
});

test('embedded defaults: 127.0.0.1:2525, ./var, localhost and $myhostname, Maildir', () => {
  const l = loadConfig();
  assert.deepEqual(l.listeners.map((x) => `${x.host}:${x.port}`), ['127.0.0.1:2525']);
  const c = l.config;
  assert.equal(c.get('mxguard_state_directory'), './var');
  assert.equal(c.get('queue_directory'), './var/spool');
  assert.equal(c.get('virtual_mailbox_base'), './var/mail');
  assert.ok(c.list('mydestination').includes('localhost'));
  assert.ok(c.list('mydestination').includes(c.get('myhostname')));
  assert.equal(c.get('local_transport'), 'virtual');
  assert.ok(c.list('mynetworks').includes('127.0.0.1/32'));
  assert.equal(c.bool('smtpd_tls_auth_only'), true);
});

test('unknown parameters are reported with file and line; Postfix ones are named as such', (t) => {
  const dir = confDir(t, 'myhostname = mx.example.test\nfrobnicate = yes\nalias_maps = hash:/etc/aliases\nmy_list = a b\nrelay_domains = $my_list\n', '127.0.0.1:2525 inet n - n - - smtpd -o smtpd_bogus=1\n');
  const l = loadConfig({ dir });
  const msgs = l.warnings.map((w) => `${w.file}:${w.line}: ${w.message}`);
  assert.ok(msgs.some((m) => m.endsWith('main.cf:2: unknown parameter "frobnicate"')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.endsWith('main.cf:3: Postfix parameter "alias_maps" has no effect in mxguard')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.endsWith('master.cf:1: unknown parameter "smtpd_bogus"')), msgs.join('\n'));
  assert.ok(!msgs.some((m) => m.includes('my_list')), 'a user-defined parameter used by $name is not unknown');
  assert.deepEqual(l.config.list('relay_domains'), ['a', 'b']);
});

test('bad values stop loading with file, line and reason', (t) => {
  for (const [line, re] of [
    ['smtpd_helo_required = maybe', /main\.cf:2: smtpd_helo_required: bad boolean value "maybe"/],
    ['message_size_limit = 10MB', /main\.cf:2: message_size_limit: bad numerical value "10MB"/],
    ['smtpd_timeout = 0', /main\.cf:2: smtpd_timeout: time \(in seconds\) must be at least 1/],
    ['smtpd_tls_security_level = sometimes', /main\.cf:2: smtpd_tls_security_level: bad value "sometimes"/],
  ] as const) {
    const dir = confDir(t, `myhostname = mx.example.test\n${line}\n`, '127.0.0.1:2525 inet n - n - - smtpd\n');
    assert.throws(() => loadConfig({ dir }), (e: unknown) => e instanceof ConfigError && re.test(e.message), line);
  }
  const dir = confDir(t, 'myhostname = x.test\n', 'smtp inet n - y - - smtpd -o smtpd_recipient_limit=lots\n');
  assert.throws(() => loadConfig({ dir }), /master\.cf:1: smtpd_recipient_limit: bad numerical value "lots"/);
});

test('inet_interfaces and service names give listen addresses', (t) => {
  const dir = confDir(t, 'inet_interfaces = 127.0.0.1, [::1]\n', 'smtp inet n - y - - smtpd\nsubmissions inet n - y - - smtpd\n[::1]:2526 inet n - n - - smtpd\n');
  const l = loadConfig({ dir });
  assert.deepEqual(l.listeners.map((x) => `${x.service} ${x.host} ${x.port}`), [
    'smtp 127.0.0.1 25', 'smtp ::1 25', 'submissions 127.0.0.1 465', 'submissions ::1 465', '[::1]:2526 ::1 2526',
  ]);
});

test('mxguard config: all parameters, -n non-defaults, names, errors exit 1', async (t) => {
  const dir = confDir(t, '# x\nmyhostname = mx.example.test\nsmtpd_helo_required = yes\n', '127.0.0.1:2525 inet n - n - - smtpd\n');
  const all = await runCli(['config', '--config', dir]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^smtpd_timeout = 300s$/m);
  assert.match(all.stdout, /^smtpd_banner = \$myhostname ESMTP \$mail_name$/m);
  const n = await runCli(['config', '-n', '--config', dir]);
  assert.equal(n.stdout, 'myhostname = mx.example.test\nsmtpd_helo_required = yes\n');
  const x = await runCli(['config', '-x', 'smtpd_banner', '--config', dir]);
  assert.equal(x.stdout, 'smtpd_banner = mx.example.test ESMTP mxguard\n');
  const bad = confDir(t, 'smtpd_helo_required = perhaps\n', '127.0.0.1:2525 inet n - n - - smtpd\n');
  const r = await runCli(['config', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /main\.cf:1: smtpd_helo_required: bad boolean value "perhaps"/);
  const serve = await runCli(['serve', '--config', bad]);
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /fatal: .*main\.cf:1: smtpd_helo_required/);
});

test('docs/configuration.md is the rendered catalogue', () => {
  const doc = readFileSync(join(repoRoot, 'docs/configuration.md'), 'utf8');
  assert.equal(doc, renderReference(), 'run: node dist/src/cli/main.js config --reference > docs/configuration.md');
});

test('a real main.cf from the field reports (seeds/000) loads: Postfix-only parameters are named, nothing is fatal', (t) => {
  const dir = confDir(t, readFileSync(join(repoRoot, 'test/fixtures/seed-000-main.cf'), 'utf8'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  const l = loadConfig({ dir });
  const msgs = l.warnings.map((w) => `${w.line}: ${w.message}`);
  assert.ok(msgs.includes('129: Postfix parameter "alias_maps" has no effect in mxguard'), msgs.join('\n'));
  // smtpd_sasl_type = dovecot with smtpd_sasl_path = private/auth is supported now: no warning.
  assert.ok(!msgs.some((m) => /smtpd_sasl_type|smtpd_sasl_path/.test(m)), msgs.join('\n'));
  assert.ok(!msgs.some((m) => m.includes('unknown parameter')), 'every name in it is a Postfix parameter');
  assert.equal(l.config.get('myhostname'), 'mail.myhost.com');
  assert.equal(l.config.time('maximal_queue_lifetime'), 7 * 86400);
  assert.deepEqual(l.config.list('mynetworks'), ['127.0.0.0/8', '[::ffff:127.0.0.0]/104', '[::1]/128']);
});

test('start-up problems are one clear line and exit 1: port in use, unwritable state directory', async (t) => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const dir = confDir(t, `mxguard_state_directory = ${join(tmpdir(), `mxg-st-${process.pid}-${port}`)}\n`, `127.0.0.1:${port} inet n - n - - smtpd\n`);
  t.after(() => rmSync(join(tmpdir(), `mxg-st-${process.pid}-${port}`), { recursive: true, force: true }));
  const r = await runCli(['serve', '--config', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`mxguard: fatal: service 127\\.0\\.0\\.1:${port}: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'not a directory\n');
  const ro = confDir(t, `mxguard_state_directory = ${blocker}/state\n`, '127.0.0.1:0 inet n - n - - smtpd\n');
  const r2 = await runCli(['serve', '--config', ro]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /^mxguard: fatal: ENOTDIR: not a directory, mkdir .*a-file\/state/m);
  assert.doesNotMatch(r2.stderr, /    at /, 'no stack trace');
});
