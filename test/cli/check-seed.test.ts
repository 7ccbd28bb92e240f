/**
 * Field report seeds/000: spam got through a Postfix whose HELO and sender lists put
 * warn_if_reject in front of the rejects. `mxguard check` on that main.cf shows why: the HELO
 * check fires and is only logged as reject_warning, and the mail is accepted.
 * The report's MySQL tables are replaced by files with the same role (mxguard reads tables from
 * files); everything else is the administrator's main.cf as posted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/run-cli.js';

test('seeds/000: mxguard check explains why the spam from 37.215.63.185 got through (warn_if_reject)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-seed000-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seed = readFileSync(join(repoRoot, 'test/fixtures/seed-000-main.cf'), 'utf8')
    .replace(/^virtual_mailbox_maps = mysql:.*$/m, `virtual_mailbox_maps = hash:${dir}/vmailbox`)
    .replace(/^virtual_alias_maps = mysql:.*$/m, `virtual_alias_maps = hash:${dir}/valias`)
    .replace(/^virtual_mailbox_domains = mysql:.*$/m, 'virtual_mailbox_domains = myhost.com');
  writeFileSync(join(dir, 'main.cf'), seed);
  writeFileSync(join(dir, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  writeFileSync(join(dir, 'vmailbox'), 'info@myhost.com myhost.com/info/\n');
  writeFileSync(join(dir, 'valias'), 'postmaster@myhost.com info@myhost.com\n');

  const r = await runCli(['check', '--config', dir, '--client-address', '37.215.63.185', '--helo', '37.215.63.185', '--sender', '', '--recipient', 'info@myhost.com']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  // The check that would have stopped it, turned into a warning:
  assert.match(r.stdout, /smtpd_helo_restrictions: reject_non_fqdn_hostname -> reject_warning 504 5\.5\.2 <37\.215\.63\.185>: Helo command rejected: need fully-qualified hostname/);
  // ... and the list then permits, so the recipient is accepted.
  assert.match(r.stdout, /smtpd_helo_restrictions: permit -> permit/);
  assert.match(r.stdout, /RCPT TO:<info@myhost\.com>\s*\n\s*250 2\.1\.5 Ok/);
});
