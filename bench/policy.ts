/**
 * Policy-service benchmark: `mxguard policy` (check_greylist, every request a new triplet)
 * against postgrey 1.37 on the same machine, with the shared load generator
 * (the request shape of ../shared/bench/policy-load.mjs, N requests over C persistent
 * connections, every one a triplet never seen before). Prints requests per second and latency percentiles per store.
 *   node dist/bench/policy.js [requests=20000] [connections=8]
 * Needs postgrey on 127.0.0.1:12523 (../shared/bench/anchors.sh setup && ... start); Redis is
 * measured when redis-server is installed (a private one on a free port, stopped afterwards).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'dist/src/cli/main.js');
const N = Number(process.argv[2] ?? 20000), C = Number(process.argv[3] ?? 8);
const children: ChildProcess[] = [];
const dirs: string[] = [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const canConnect = (port: number) => new Promise<boolean>((res) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); res(true); });
  s.once('error', () => res(false));
});
async function waitPort(port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await canConnect(port))) { if (Date.now() > end) throw new Error(`port ${port} never opened`); await sleep(50); }
}
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
}

interface LoadResult { requests: number; seconds: number; rps: number; p50_ms: number; p99_ms: number; actions: Record<string, number> }

/** CPU time (user + system, all threads) a process has used so far, µs; from /proc/PID/stat. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 1e6 / 100; // utime, stime in USER_HZ (100 on Linux)
}

/**
 * measured - one load run with the CPU each side spent per request: the server's (its process,
 * every thread) and this load generator's. N cores give at most N × 1,000,000 µs of CPU a
 * second, so server + client µs per request bounds the rate any run on this machine can reach.
 */
async function measured(port: number, n: number, pid: number | undefined): Promise<LoadResult & { server_us: number; client_us: number }> {
  const s0 = pid ? cpuOf(pid) : 0;
  const c0 = process.cpuUsage();
  const r = await load(port, n);
  const c = process.cpuUsage(c0);
  return { ...r, server_us: pid ? Math.round((cpuOf(pid) - s0) / r.requests) : NaN, client_us: Math.round((c.user + c.system) / r.requests) };
}
const cpuLine = (r: { server_us: number; client_us: number }) =>
  `  CPU/request: server ${Number.isNaN(r.server_us) ? '?' : r.server_us} µs, load generator ${r.client_us} µs`;

/**
 * load - N requests over C persistent connections, one in flight per connection, as
 * ../shared/bench/policy-load.mjs sends them (same attributes), except that every request of
 * every run is a new triplet: the run's tag is in the sender and the recipient (letters only,
 * so that postgrey's number folding cannot merge two runs).
 */
async function load(port: number, n: number): Promise<LoadResult> {
  const tag = Array.from({ length: 8 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
  const req = (i: number) => {
    const a = 1 + (i % 250), b = 1 + ((i / 250 | 0) % 250);
    return `request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=198.51.${a}.${b}\nclient_name=host${i}.example.net\nreverse_client_name=host${i}.example.net\nhelo_name=host${i}.example.net\nsender=s${i}${tag}@example.net\nrecipient=user${i % 100}${tag}@example.test\nrecipient_count=0\nqueue_id=\nsize=0\ninstance=${i}.1\nsasl_method=\nsasl_username=\n\n`;
  };
  let sent = 0;
  const lat: number[] = [];
  const actions: Record<string, number> = {};
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: C }, () => new Promise<void>((res, rej) => {
    const s = connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let buf = '', t = 0n;
    const next = () => {
      if (sent >= n) { s.end(); res(); return; }
      t = process.hrtime.bigint(); s.write(req(sent++));
    };
    s.on('connect', next);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const act = buf.slice(0, k).replace(/^action=/, '').split(' ')[0]!;
        buf = buf.slice(k + 2);
        actions[act] = (actions[act] ?? 0) + 1;
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        next();
      }
    });
    s.on('error', rej);
  })));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((x, y) => x - y);
  const q = (f: number) => +lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!.toFixed(3);
  return { requests: lat.length, seconds: +secs.toFixed(3), rps: Math.round(lat.length / secs), p50_ms: q(0.5), p99_ms: q(0.99), actions };
}

async function mxguard(store: string): Promise<{ port: number; pid: number | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-bench-policy-'));
  dirs.push(dir);
  const port = await freePort();
  writeFileSync(join(dir, 'main.cf'), [
    'myhostname = mx.example.test', `mxguard_state_directory = ${dir}/var`, `maillog_file = ${dir}/maillog`,
    `mxguard_policy_listen = 127.0.0.1:${port}`, 'mxguard_policy_restrictions = check_greylist', `mxguard_state_store = ${store}`,
    'mxguard_dns_servers = 127.0.0.1:9',
  ].join('\n') + '\n');
  const p = spawn(process.execPath, [CLI, 'policy', '--config', dir], { stdio: 'ignore' });
  children.push(p);
  await waitPort(port);
  return { port, pid: p.pid };
}

/**
 * sqliteFloor - µs a new triplet costs in SQLite at the least, with nothing else around it: in
 * a WAL file (synchronous = NORMAL) that already holds 200,000 keys, look up the client and the
 * triplet (both absent) and insert the triplet into a WITHOUT ROWID table with no other index,
 * committing every 8 triplets (one per connection of the load). mxguard's store does more: an
 * expiry index, and the auto-allowlist counter.
 */
function sqliteFloor(dir: string): number {
  const db = new Database(join(dir, 'floor.sqlite'));
  try {
    db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('wal_autocheckpoint = 10000');
    db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID');
    const get = db.prepare('SELECT value, expires_at FROM kv WHERE key = ?');
    const put = db.prepare('INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)');
    const far = Date.now() + 35 * 86_400_000;
    db.transaction(() => { for (let i = 0; i < 200_000; i++) put.run(`198.51.${i % 250}/old${i}@example.net/user${i % 100}@example.test`, '1', far); })();
    const commit = db.transaction((keys: string[]) => { for (const k of keys) put.run(k, String(Date.now()), far); });
    const n = 50_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += 8) {
      const keys: string[] = [];
      for (let j = i; j < i + 8; j++) {
        const k = `198.51.${j % 250}/s${j}@example.net/user${j % 100}@example.test`;
        get.get(`198.51.${j % 250}`); get.get(k);
        keys.push(k);
      }
      commit(keys);
    }
    return Number(process.hrtime.bigint() - t0) / 1e3 / n;
  } finally { db.close(); }
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ${N} requests over ${C} connections, each a new triplet`);
  const stores: [string, string][] = [['memory', 'memory:'], ['sqlite', 'sqlite:${mxguard_state_directory}/state.sqlite']];
  if (existsSync('/usr/bin/redis-server')) {
    const rport = await freePort();
    const rdir = mkdtempSync(join(tmpdir(), 'mxg-bench-redis-'));
    dirs.push(rdir);
    const r = spawn('/usr/bin/redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', rdir], { stdio: 'ignore' });
    children.push(r);
    await waitPort(rport);
    stores.push(['redis', `redis://127.0.0.1:${rport}/0`]);
  }
  for (const [name, spec] of stores) {
    const { port, pid } = await mxguard(spec);
    await load(port, Math.min(N, 5000)); // warm-up (V8 compiles the hot paths; new triplets afterwards too)
    const r = await measured(port, N, pid);
    console.log(`mxguard ${name.padEnd(7)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  ${JSON.stringify(r.actions)}`);
    console.log(cpuLine(r));
  }
  // The ceiling of this machine and load generator: a server that answers DUNNO at once.
  const echoPort = await freePort();
  const echo = spawn(process.execPath, ['-e', `require('net').createServer((s) => { let b = ''; s.setNoDelay(true); s.on('data', (d) => { b += d; let k; while ((k = b.indexOf('\\n\\n')) >= 0) { b = b.slice(k + 2); s.write('action=DUNNO\\n\\n'); } }); }).listen(${echoPort}, '127.0.0.1')`], { stdio: 'ignore' });
  children.push(echo);
  await waitPort(echoPort);
  await load(echoPort, Math.min(N, 5000));
  const e = await measured(echoPort, N, echo.pid);
  console.log(`ceiling (echo)  ${String(e.rps).padStart(7)} req/s  p50 ${e.p50_ms} ms  p99 ${e.p99_ms} ms  (a server that answers DUNNO without work)`);
  console.log(cpuLine(e));
  // What two cores can carry at most with an SQLite store and this load generator on them: the
  // load generator's and a do-nothing server's CPU per request, plus SQLite's least cost of a new
  // triplet, with no parsing, engine, logging or idle time at all.
  const floorDir = mkdtempSync(join(tmpdir(), 'mxg-bench-floor-'));
  dirs.push(floorDir);
  const sq = sqliteFloor(floorDir);
  const cores = cpus().length;
  const bound = Math.round(cores * 1e6 / (e.client_us + e.server_us + sq));
  console.log(`SQLite floor    ${sq.toFixed(1)} µs per new triplet (2 lookups + insert, commit every 8; nothing else)`);
  console.log(`bound on ${cores} cores for any server on SQLite: ${cores * 1e6} µs / (${e.client_us} + ${e.server_us} + ${sq.toFixed(1)}) µs = ${bound} req/s`);
  if (await canConnect(12523)) {
    const n = Math.min(N, 3000);
    const r = await load(12523, n);
    console.log(`postgrey        ${String(r.rps).padStart(7)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  ${JSON.stringify(r.actions)} (${n} requests)`);
  } else console.log('postgrey: not running on 127.0.0.1:12523 (../shared/bench/anchors.sh start)');
}

try { await main(); } finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(300);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
