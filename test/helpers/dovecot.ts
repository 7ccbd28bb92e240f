/**
 * @module test/helpers/dovecot
 * A real Dovecot LMTP server for tests: `dovecot -F -c <temp>/dovecot.conf` as a child in its
 * own process group, listening on 127.0.0.1:<free port>, with base_dir, state_dir, the log and
 * the mailboxes all under one temp dir. Users come from a passwd-file, so a recipient that is
 * not listed is refused at RCPT TO (550 5.1.1) like on a real server; mail goes to
 * `<temp>/mail/<user>/Maildir`.
 *
 * When Dovecot (dovecot-core and dovecot-lmtpd) is not installed, the test is skipped with the
 * reason, unless MXGUARD_REQUIRE_SYSTEM_DEPS is set: then the test fails.
 *
 * With `authSocket`, Dovecot's auth server also listens for SASL clients (Postfix's
 * `smtpd_sasl_path`) on the unix socket `<temp>/auth-client`, checking the `passwords` given;
 * `stop()` then `start()` takes the server away and brings it back on the same socket.
 *
 * Run as root (as CI does), mail is stored as `nobody`; as another user, as that user. The
 * process group is terminated in `t.after`, also when the test fails; no dovecot process
 * outlives the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './ports.js';

export interface DovecotLmtp {
  readonly host: '127.0.0.1';
  /** The LMTP port (a new one after `start()`). */
  readonly port: number;
  /** The auth client socket, with the `authSocket` option. */
  readonly authSocket?: string;
  /** The temp dir holding configuration, state, log and mail. */
  readonly dir: string;
  /** The Maildir of a user. */
  maildir(user: string): string;
  /** Full paths of the messages in a user's new/ and cur/. */
  messages(user: string): string[];
  /** Dovecot's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
  /** Starts Dovecot again after stop(), with the same configuration, users and auth socket. */
  start(): Promise<void>;
}

export interface DovecotOptions {
  /** Users that exist; default alice and bob. Recipients are matched on the local part (`%Ln`). */
  readonly users?: readonly string[];
  /** Passwords of users (stored as Dovecot {PLAIN}); listed users are added to `users`. */
  readonly passwords?: Readonly<Record<string, string>>;
  /** Serve Dovecot's auth protocol on `<temp>/auth-client` (mode 0666). */
  readonly authSocket?: boolean;
  /** More dovecot.conf lines (e.g. `auth_mechanisms = plain login cram-md5`). */
  readonly extraConfig?: readonly string[];
}

const DOVECOT = process.env.MXGUARD_DOVECOT ?? '/usr/sbin/dovecot';
const LMTP_BINARY_DIRS = ['/usr/lib/dovecot', '/usr/libexec/dovecot'];

/** Why Dovecot LMTP cannot run here, or undefined when it can. */
function missing(): string | undefined {
  try { accessSync(DOVECOT, fsConstants.X_OK); } catch { return `${DOVECOT} not found (install dovecot-core and dovecot-lmtpd)`; }
  if (!LMTP_BINARY_DIRS.some((d) => existsSync(join(d, 'lmtp')))) return 'Dovecot LMTP server not found (install dovecot-lmtpd)';
  return undefined;
}

function passwdEntry(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch { /* no /etc/passwd: caller falls back */ }
  return undefined;
}

/** Waits until something answers with a 220 greeting on the port, the child dies, or time runs out. */
async function waitForGreeting(port: number, child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const done = (v: boolean) => { clearTimeout(timer); s.destroy(); resolve(v); };
      const timer = setTimeout(() => done(false), 1000);
      s.once('data', (d) => done(d.toString().startsWith('220')));
      s.once('error', () => done(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Waits until the unix socket accepts a connection, the child dies, or time runs out. */
async function waitForSocket(path: string, child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ path });
      const done = (v: boolean) => { clearTimeout(timer); s.destroy(); resolve(v); };
      const timer = setTimeout(() => done(false), 1000);
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function groupAlive(pid: number): boolean {
  try { process.kill(-pid, 0); return true; } catch { return false; }
}

async function killGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  try { process.kill(-pid, 'SIGTERM'); } catch { return; }
  // The master stops its lmtp children on SIGTERM; give it a few seconds, then insist.
  const deadline = Date.now() + 5000;
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (groupAlive(pid)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    const hard = Date.now() + 2000;
    while (groupAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * startDovecot - a Dovecot LMTP server for this test, or undefined when the test was skipped
 * because Dovecot is not installed (the caller returns at once).
 */
export async function startDovecot(t: TestContext, opts: DovecotOptions = {}): Promise<DovecotLmtp | undefined> {
  const why = missing();
  if (why) {
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
    t.skip(why);
    return undefined;
  }
  const passwords = opts.passwords ?? {};
  const users = [...new Set([...(opts.users ?? ['alice', 'bob']), ...Object.keys(passwords)])];
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-dovecot-'));
  const authSocket = opts.authSocket ? join(dir, 'auth-client') : undefined;
  // One cleanup, in this order: stop every Dovecot started here, then remove the dir.
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const s of stops) await s();
    rmSync(dir, { recursive: true, force: true });
  });
  // Dovecot's unprivileged processes must reach the sockets under base_dir.
  chmodSync(dir, 0o755);
  for (const d of ['run', 'state', 'mail']) mkdirSync(join(dir, d), { mode: 0o755 });

  const me = userInfo();
  const root = me.uid === 0;
  // Mail is stored as an unprivileged user: Dovecot refuses to deliver as root.
  const owner = root ? passwdEntry('nobody') ?? { uid: 65534, gid: 65534 } : { uid: me.uid, gid: me.gid };
  if (root) chownSync(join(dir, 'mail'), owner.uid, owner.gid);
  const internalUser = root && passwdEntry('dovecot') ? 'dovecot' : root ? 'nobody' : me.username;
  const loginUser = root && passwdEntry('dovenull') ? 'dovenull' : root ? 'nobody' : me.username;

  // Tab, colon and newline would break the passwd-file line: test passwords avoid them.
  writeFileSync(join(dir, 'passwd'), users.map((u) => `${u}:{PLAIN}${passwords[u] ?? 'unused'}:${owner.uid}:${owner.gid}::${join(dir, 'mail', u)}::\n`).join(''));
  const log = join(dir, 'dovecot.log');
  const readLog = () => { try { return readFileSync(log, 'utf8'); } catch { return ''; } };

  let port = 0;
  let stop = async () => {};
  /** launch - starts Dovecot on a free LMTP port; false when it did not come up (see lastError). */
  let lastError = '';
  const launch = async (): Promise<boolean> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      port = await freePort();
      const conf = join(dir, 'dovecot.conf');
      writeFileSync(conf, [
        `base_dir = ${join(dir, 'run')}`,
        `state_dir = ${join(dir, 'state')}`,
        `log_path = ${log}`,
        `info_log_path = ${log}`,
        'protocols = lmtp',
        'ssl = no',
        'listen = 127.0.0.1',
        `default_internal_user = ${internalUser}`,
        `default_login_user = ${loginUser}`,
        // RCPT TO:<alice@example.test> is user "alice" (local part, lower case).
        'auth_username_format = %Ln',
        'mail_location = maildir:~/Maildir',
        `first_valid_uid = ${Math.min(owner.uid, 500)}`,
        `passdb {\n  driver = passwd-file\n  args = ${join(dir, 'passwd')}\n}`,
        `userdb {\n  driver = passwd-file\n  args = ${join(dir, 'passwd')}\n}`,
        `service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = ${port}\n  }\n}`,
        ...(authSocket ? [
          'auth_mechanisms = plain login',
          // The gateway decides where plaintext is allowed (smtpd_tls_auth_only), as with Postfix.
          'disable_plaintext_auth = no',
          `service auth {\n  unix_listener ${authSocket} {\n    mode = 0666\n  }\n}`,
        ] : []),
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'));
      let stderr = '';
      const child = spawn(DOVECOT, ['-F', '-c', conf], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('error', (e) => { stderr += String(e); });
      let stopped = false;
      stop = async () => {
        if (stopped) return;
        stopped = true;
        await killGroup(child);
      };
      stops.push(stop);
      if (await waitForGreeting(port, child, 10_000) && (!authSocket || await waitForSocket(authSocket, child, 10_000))) return true;
      await stop();
      lastError = `${stderr.trim()}\n${readLog().trim()}`.trim();
      // Another process may have taken the port between freePort() and Dovecot's bind: try another.
    }
    return false;
  };
  if (!(await launch())) throw new Error(`Dovecot LMTP did not start: ${lastError || 'no output'}`);
  return {
    host: '127.0.0.1', get port() { return port; }, dir, authSocket,
    maildir: (u) => join(dir, 'mail', u, 'Maildir'),
    messages: (u) => ['new', 'cur'].flatMap((sub) => {
      const p = join(dir, 'mail', u, 'Maildir', sub);
      return existsSync(p) ? readdirSync(p).map((f) => join(p, f)) : [];
    }),
    log: readLog,
    stop: () => stop(),
    async start() {
      await stop();
      if (!(await launch())) throw new Error(`Dovecot did not start again: ${lastError || 'no output'}`);
    },
  };
}
