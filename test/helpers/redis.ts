/**
 * @module test/helpers/redis
 * A real Redis server for tests: `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no`
 * as a child in its own process group, on a free loopback port, nothing written to disk.
 *
 * `stop()` kills it (SIGKILL: the data is gone, like a crashed Redis) and waits for the exit;
 * `start()` starts a fresh, empty one on the same port (to test outages and recovery). The
 * server is killed in `t.after`, also when the test fails; no redis-server outlives the test.
 *
 * When redis-server is not installed the test is skipped with the reason, unless
 * MXGUARD_REQUIRE_SYSTEM_DEPS is set: then the test fails.
 *
 *   const redis = await startRedis(t);
 *   if (!redis) return;                    // skipped
 *   const store = new RedisStore(redis.url);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { freePort } from './ports.js';

export interface TestRedis {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:PORT/0`, for mxguard_state_store. */
  readonly url: string;
  /** Kills the server (no graceful save) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered; `resume()` undoes it. */
  pause(): void;
  resume(): void;
  /** What the server printed so far (for failure messages). */
  output(): string;
}

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];

function findRedis(): string | undefined {
  for (const c of CANDIDATES) {
    try { accessSync(c, fsConstants.X_OK); return c; } catch { /* next */ }
  }
  return undefined;
}

/** ping - true when a PING on 127.0.0.1:port is answered +PONG within `ms`. */
function ping(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), ms);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    s.on('error', () => done(false));
  });
}

function exited(child: ChildProcess): boolean { return child.exitCode !== null || child.signalCode !== null; }

async function kill(child: ChildProcess): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
}

/**
 * startRedis - a Redis server for this test, or undefined when the test was skipped because
 * redis-server is not installed (the caller returns at once).
 */
export async function startRedis(t: TestContext): Promise<TestRedis | undefined> {
  const bin = findRedis();
  if (!bin) {
    const why = `redis-server is not installed (looked in ${CANDIDATES.join(', ')})`;
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
    console.log(`# skipped: ${why}`);
    t.skip(why);
    return undefined;
  }
  let child: ChildProcess | undefined;
  let out = '';
  t.after(async () => {
    if (!child) return;
    try { if (child.pid !== undefined && !exited(child)) process.kill(-child.pid, 'SIGCONT'); } catch { /* gone */ }
    await kill(child);
  });

  const launch = async (port: number): Promise<boolean> => {
    const c = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('error', (e) => { out += String(e); });
    const until = Date.now() + 10_000;
    while (Date.now() < until && !exited(c)) {
      if (await ping(port, 500)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    await kill(c);
    return false;
  };

  let port = 0;
  for (let attempt = 0; attempt < 3 && !port; attempt++) {
    const p = await freePort();
    // Another process may take the port between freePort() and the bind: then try another.
    if (await launch(p)) port = p;
  }
  if (!port) throw new Error(`redis-server did not start: ${out.trim() || 'no output'}`);

  return {
    host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}/0`,
    output: () => out,
    pause: () => { if (child?.pid !== undefined && !exited(child)) process.kill(-child.pid, 'SIGSTOP'); },
    resume: () => { if (child?.pid !== undefined && !exited(child)) process.kill(-child.pid, 'SIGCONT'); },
    stop: async () => { if (child) await kill(child); },
    start: async () => {
      if (child && !exited(child)) return;
      // The port was ours a moment ago; retry briefly in case the kernel is slow to release it.
      for (let i = 0; i < 3; i++) if (await launch(port)) return;
      throw new Error(`redis-server did not restart on port ${port}: ${out.trim() || 'no output'}`);
    },
  };
}
