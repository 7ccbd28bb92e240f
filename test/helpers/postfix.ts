/**
 * @module test/helpers/postfix
 * A private Postfix instance for tests: its own configuration directory, queue, data directory
 * and log under one temp dir, smtpd on 127.0.0.1:<free port>, nothing delivered locally
 * (`mydestination =`), everything relayed to `relayhost`. Started with `postfix -c DIR start`
 * and stopped with `postfix -c DIR stop` in `t.after` (then the master is killed if it is still
 * there), also when the test fails; the temp dir is removed afterwards.
 *
 * Postfix must run as root (it changes to $mail_owner itself). When Postfix is not installed or
 * this is not root, the test is skipped with the reason, unless MXGUARD_REQUIRE_SYSTEM_DEPS is
 * set: then it fails.
 *
 * Postfix refuses `-c DIR` for a directory that the default main.cf does not list in
 * alternate_config_directories when it runs set-gid (postdrop, postqueue); the daemons started
 * by root do not need that, so /etc/postfix is left alone unless the plain start fails.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './ports.js';

export interface PostfixInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Temp dir: etc/ (main.cf, master.cf), queue/, data/, maillog. */
  readonly dir: string;
  readonly configDir: string;
  /** Postfix's own log so far. */
  log(): string;
  /** Waits until the log matches `pattern`, or throws after `ms` with the log. */
  waitLog(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export interface PostfixOptions {
  /** `[127.0.0.1]:port` of the next hop for all mail. */
  readonly relayhost: string;
  /** Extra or overriding main.cf settings. */
  readonly main?: Readonly<Record<string, string>>;
  /**
   * Rewrites the generated master.cf (the package's services with the smtp service on
   * 127.0.0.1:port), e.g. to append more smtpd services with `-o` overrides. Optional.
   */
  readonly master?: (text: string) => string;
  /**
   * Name servers for Postfix's own DNS lookups (e.g. `['127.0.0.153']`, port 53: the C resolver
   * knows no other). Postfix is then started in a private mount namespace (unshare(1)) where
   * /etc/resolv.conf is a file naming only these: the host's resolver setup is untouched.
   */
  readonly nameservers?: readonly string[];
}

const POSTFIX = '/usr/sbin/postfix';
const MASTER_TEMPLATE = '/etc/postfix/master.cf';

/** Why Postfix cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (!existsSync(POSTFIX)) return `${POSTFIX} not found (install postfix)`;
  if (!existsSync(MASTER_TEMPLATE)) return `${MASTER_TEMPLATE} not found (install postfix)`;
  if (userInfo().uid !== 0) return 'Postfix must be started as root';
  return undefined;
}

/** Runs the postfix command with a timeout; never throws. */
function postfixCmd(args: readonly string[], timeoutMs = 30_000): { code: number | null; out: string } {
  const r = spawnSync(POSTFIX, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Processes whose working directory is inside `dir` (Postfix daemons chdir to the queue). */
function pidsIn(dir: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cwd = readlinkSync(`/proc/${e}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(e));
    } catch { /* gone, or not ours to see */ }
  }
  return out;
}

async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (v: boolean) => { clearTimeout(timer); s.destroy(); resolve(v); };
    const timer = setTimeout(() => done(false), 2000);
    s.once('data', (d) => done(d.toString().startsWith('220')));
    s.once('error', () => done(false));
  });
}

/** The master.cf of the package with its smtp service moved to 127.0.0.1:port. */
function masterCf(port: number): string {
  const text = readFileSync(MASTER_TEMPLATE, 'utf8');
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /^smtp\s+inet\s/.test(l));
  if (i < 0) throw new Error(`${MASTER_TEMPLATE} has no "smtp inet" service`);
  lines[i] = `127.0.0.1:${port} inet n - n - - smtpd`;
  // Drop other inet services (submission, smtps, postscreen…) if enabled: they would take ports.
  return lines.filter((l, j) => j === i || !/^\S+\s+inet\s/.test(l)).join('\n');
}

/**
 * startPostfix - a running private Postfix relaying to `opts.relayhost`, or undefined when the
 * test was skipped (the caller returns at once).
 */
export async function startPostfix(t: TestContext, opts: PostfixOptions): Promise<PostfixInstance | undefined> {
  const why = missing();
  if (why) {
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
    console.log(`skipped (${t.name}): ${why}`);
    t.skip(why);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-postfix-'));
  chmodSync(dir, 0o755);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'queue');
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'maillog');
  for (const d of [configDir, queueDir, dataDir]) mkdirSync(d, { mode: 0o755 });
  const owner = spawnSync('id', ['-u', 'postfix'], { encoding: 'utf8' });
  if (owner.status === 0) chownSync(dataDir, Number(owner.stdout.trim()), 0);

  let started = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!started) return;
    const pidFile = join(queueDir, 'pid', 'master.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    postfixCmd(['-c', configDir, 'stop']);
    if (Number.isInteger(pid) && pid > 0) {
      const end = Date.now() + 10_000;
      while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) {
        postfixCmd(['-c', configDir, 'abort']);
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    // The master's children leave when it does; they work in the queue directory, which is
    // how they are found. Whatever is still there after a few seconds is killed.
    const end = Date.now() + 5000;
    while (Date.now() < end && pidsIn(queueDir).length) await new Promise((r) => setTimeout(r, 50));
    for (const p of pidsIn(queueDir)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let lastError = '';
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    const port = await freePort();
    const main: Record<string, string> = {
      compatibility_level: '3.6',
      queue_directory: queueDir,
      data_directory: dataDir,
      maillog_file: logFile,
      maillog_file_prefixes: dir,
      myhostname: 'relay.postfix.test',
      mydomain: 'postfix.test',
      myorigin: '$myhostname',
      mydestination: '',
      local_recipient_maps: '',
      alias_maps: '',
      alias_database: '',
      mynetworks: '127.0.0.0/8',
      inet_interfaces: '127.0.0.1',
      inet_protocols: 'ipv4',
      relayhost: opts.relayhost,
      smtpd_peername_lookup: 'no',
      disable_dns_lookups: 'yes',
      smtp_dns_support_level: 'disabled',
      smtp_tls_security_level: 'none',
      smtpd_tls_security_level: 'none',
      // Quick retries so a test sees the second attempt.
      queue_run_delay: '1s',
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      ...opts.main,
    };
    writeFileSync(join(configDir, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
    writeFileSync(join(configDir, 'master.cf'), opts.master ? opts.master(masterCf(port)) : masterCf(port));
    let r: { code: number | null; out: string };
    if (opts.nameservers?.length) {
      const rc = join(dir, 'resolv.conf');
      writeFileSync(rc, opts.nameservers.map((n) => `nameserver ${n}`).join('\n') + '\noptions timeout:2 attempts:1\n');
      // The master and every daemon it starts stay in the namespace, with this resolv.conf.
      const u = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start', 'sh', rc, POSTFIX, configDir], { encoding: 'utf8', timeout: 30_000 });
      r = { code: u.status, out: `${u.stdout ?? ''}${u.stderr ?? ''}${u.error ? String(u.error) : ''}` };
    } else {
      r = postfixCmd(['-c', configDir, 'start']);
    }
    if (r.code === 0) {
      started = true;
      const end = Date.now() + 15_000;
      let up = false;
      while (!up && Date.now() < end) {
        up = await greets(port);
        if (!up) await new Promise((res) => setTimeout(res, 100));
      }
      if (up) {
        const inst: PostfixInstance = {
          host: '127.0.0.1', port, dir, configDir,
          log: readLog,
          async waitLog(pattern, ms = 20_000) {
            const stopAt = Date.now() + ms;
            for (;;) {
              const m = readLog().match(pattern);
              if (m) return m;
              if (Date.now() > stopAt) throw new Error(`Postfix log never matched ${pattern}; log:\n${readLog().slice(-4000)}`);
              await new Promise((res) => setTimeout(res, 50));
            }
          },
          stop,
        };
        return inst;
      }
      lastError = `no greeting on 127.0.0.1:${port}; log:\n${readLog()}`;
      // Stop this one and try another port (someone may have taken it meanwhile).
      postfixCmd(['-c', configDir, 'stop']);
      await new Promise((res) => setTimeout(res, 1000));
      started = false;
    } else {
      // Postfix writes its start-up errors only to a terminal or syslog: run check for the reason.
      const check = spawnSync('script', ['-qc', `${POSTFIX} -c ${configDir} check`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
      lastError = `postfix start exited ${r.code}: ${r.out}${check.stdout ?? ''}\nlog:\n${readLog()}`;
      if (/alternate_config_directories/.test(lastError)) {
        throw new Error(`Postfix refuses ${configDir}: add it to alternate_config_directories in /etc/postfix/main.cf (${lastError})`);
      }
    }
  }
  throw new Error(`Postfix did not start: ${lastError}`);
}
