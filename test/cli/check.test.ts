/**
 * `mxguard check`: the built CLI on small configurations in temporary directories; replies,
 * trace and exit status (0 accepted, 1 rejected, 2 deferred, 3 configuration error).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.js';

const BASE: Record<string, string> = {
  myhostname: 'mx.example.test',
  mydomain: 'example.test',
  mydestination: 'example.test',
  mynetworks: '127.0.0.0/8',
  local_recipient_maps: 'inline:{ alice=1 }',
};

function configDir(t: TestContext, main: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.cf'), Object.entries({ ...BASE, ...main }).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  writeFileSync(join(dir, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  return dir;
}

interface JsonStage { stage: string; command: string; action: string; reply: string; code: number; note?: string; trace: { list: string; restriction: string; args: string[]; outcome: { kind: string; note?: string; replyLine?: string } }[] }
interface JsonDoc { stages: JsonStage[]; exitStatus: number }

async function checkJson(dir: string, args: string[]): Promise<{ code: number | null; doc: JsonDoc; stderr: string }> {
  const r = await runCli(['check', '--config', dir, '--json', ...args]);
  return { code: r.code, doc: JSON.parse(r.stdout) as JsonDoc, stderr: r.stderr };
}

test('a client in mynetworks relays: every stage accepted, exit status 0, permit_mynetworks in the trace', async (t) => {
  const dir = configDir(t);
  const r = await runCli(['check', '--config', dir, '--client-address', '127.0.0.5', '--helo', 'pc.example', '--sender', 'a@example.test', '--recipient', 'x@elsewhere.test']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^connect: CONNECT\n {2}220 mx\.example\.test ESMTP mxguard$/m);
  assert.match(out, /^helo: EHLO pc\.example\n {2}250 mx\.example\.test$/m);
  assert.match(out, /^mail: MAIL FROM:<a@example\.test>\n {2}250 2\.1\.0 Ok$/m);
  assert.match(out, /^rcpt: RCPT TO:<x@elsewhere\.test>\n {2}250 2\.1\.5 Ok$/m);
  assert.match(out, /trace: smtpd_relay_restrictions: permit_mynetworks -> permit/);
  assert.match(out, /^data: DATA\n {2}354 End data with <CR><LF>\.<CR><LF>$/m);
  assert.match(out, /^eod: \.\n {2}250 2\.0\.0 Ok: queued/m);
  assert.match(out, /result: accepted \(exit status 0\)/);
  // smtpd_delay_reject = yes: the earlier lists are said to run at RCPT TO.
  assert.match(out, /note: smtpd_delay_reject = yes: smtpd_client_restrictions evaluated at RCPT TO/);
});

test('relay to a stranger is rejected with Postfix\'s reply; exit status 1', async (t) => {
  const dir = configDir(t, { smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  const { code, doc } = await checkJson(dir, ['--client-address', '192.0.2.1', '--sender', 'a@remote.test', '--recipient', 'x@elsewhere.test', '--recipient', 'alice@example.test']);
  assert.equal(code, 1);
  assert.equal(doc.exitStatus, 1);
  const rcpts = doc.stages.filter((s) => s.stage === 'rcpt');
  assert.equal(rcpts[0]!.reply, '554 5.7.1 <x@elsewhere.test>: Relay access denied');
  assert.equal(rcpts[0]!.action, 'reject');
  const last = rcpts[0]!.trace.at(-1)!;
  assert.equal(last.restriction, 'reject_unauth_destination');
  assert.equal(last.outcome.kind, 'reject');
  assert.equal(last.outcome.replyLine, '554 5.7.1 <x@elsewhere.test>: Relay access denied');
  assert.ok(last.outcome.note);
  assert.equal(rcpts[1]!.reply, '250 2.1.5 Ok');
  assert.deepEqual(doc.stages.map((s) => s.stage), ['connect', 'mail', 'rcpt', 'rcpt', 'data', 'eod']);
});

test('an unknown local recipient is refused by the implicit check', async (t) => {
  const dir = configDir(t);
  const { code, doc } = await checkJson(dir, ['--client-address', '192.0.2.1', '--recipient', 'nobody@example.test']);
  assert.equal(code, 1);
  const rcpt = doc.stages.find((s) => s.stage === 'rcpt')!;
  assert.match(rcpt.reply, /^550 5\.1\.1 <nobody@example\.test>: Recipient address rejected: User unknown/);
  // No recipient accepted: DATA gets Postfix's answer and nothing follows.
  assert.equal(doc.stages.at(-1)!.reply, '554 5.5.1 Error: no valid recipients');
});

test('the default relay restrictions defer a stranger: 454, exit status 2', async (t) => {
  const dir = configDir(t);
  const r = await runCli(['check', '--config', dir, '--client-address', '192.0.2.1', '--recipient', 'x@elsewhere.test']);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^ {2}454 4\.7\.1 <x@elsewhere\.test>: Relay access denied$/m);
  assert.match(r.stdout, /trace: smtpd_relay_restrictions: defer_unauth_destination -> reject 454 4\.7\.1/);
  assert.match(r.stdout, /result: deferred \(exit status 2\)/);
});

test('a SASL-authenticated client relays (permit_sasl_authenticated)', async (t) => {
  const dir = configDir(t);
  const { code, doc } = await checkJson(dir, ['--client-address', '192.0.2.1', '--sasl-username', 'alice', '--tls', '--recipient', 'x@elsewhere.test']);
  assert.equal(code, 0);
  const rcpt = doc.stages.find((s) => s.stage === 'rcpt')!;
  assert.ok(rcpt.trace.some((s) => s.restriction === 'permit_sasl_authenticated' && s.outcome.kind === 'permit'));
});

test('smtpd_delay_reject = no: the client list answers the connection and nothing more is checked', async (t) => {
  const dir = configDir(t, { smtpd_delay_reject: 'no', smtpd_client_restrictions: 'check_client_access inline:{ 192.0.2.9=REJECT }' });
  const { code, doc } = await checkJson(dir, ['--client-address', '192.0.2.9', '--helo', 'h.example', '--recipient', 'alice@example.test']);
  assert.equal(code, 1);
  assert.equal(doc.stages.length, 1);
  assert.equal(doc.stages[0]!.reply, '554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied');
  assert.equal(doc.stages[0]!.trace[0]!.restriction, 'check_client_access');
});

test('configuration errors: an unknown restriction, a missing directory, bad arguments: exit status 3', async (t) => {
  const dir = configDir(t, { smtpd_recipient_restrictions: 'reject_no_such_thing' });
  const r = await runCli(['check', '--config', dir, '--client-address', '127.0.0.1', '--recipient', 'alice@example.test']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}451 4\.3\.5 Server configuration error$/m);
  assert.match(r.stdout, /trace: smtpd_recipient_restrictions: reject_no_such_thing -> error/);
  assert.match(r.stdout, /result: configuration error \(exit status 3\)/);

  const missing = await runCli(['check', '--config', join(dir, 'nope'), '--client-address', '127.0.0.1', '--recipient', 'a@b.test']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /cannot read .*main\.cf/);

  const badIp = await runCli(['check', '--config', dir, '--client-address', '999.1.1.1', '--recipient', 'a@b.test']);
  assert.equal(badIp.code, 3);
  assert.match(badIp.stderr, /--client-address: not an IP address/);

  const noRcpt = await runCli(['check', '--config', dir, '--client-address', '127.0.0.1']);
  assert.equal(noRcpt.code, 3);
  assert.match(noRcpt.stderr, /--recipient/);
});
