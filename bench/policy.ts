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
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

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

async function mxguard(store: string): Promise<number> {
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
  return port;
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
    const port = await mxguard(spec);
    await load(port, Math.min(N, 5000)); // warm-up (V8 compiles the hot paths; new triplets afterwards too)
    const r = await load(port, N);
    console.log(`mxguard ${name.padEnd(7)} ${String(r.rps).padStart(7)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  ${JSON.stringify(r.actions)}`);
  }
  // The ceiling of this machine and load generator: a server that answers DUNNO at once.
  const echoPort = await freePort();
  const echo = spawn(process.execPath, ['-e', `require('net').createServer((s) => { let b = ''; s.setNoDelay(true); s.on('data', (d) => { b += d; let k; while ((k = b.indexOf('\\n\\n')) >= 0) { b = b.slice(k + 2); s.write('action=DUNNO\\n\\n'); } }); }).listen(${echoPort}, '127.0.0.1')`], { stdio: 'ignore' });
  children.push(echo);
  await waitPort(echoPort);
  await load(echoPort, Math.min(N, 5000));
  const e = await load(echoPort, N);
  console.log(`ceiling (echo)  ${String(e.rps).padStart(7)} req/s  p50 ${e.p50_ms} ms  p99 ${e.p99_ms} ms  (a server that answers DUNNO without work)`);
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
