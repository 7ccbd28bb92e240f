/**
 * The floor under the gateway benchmark on this machine: how fast could *any* Node.js SMTP
 * server be that puts each message on disk before its `250`, if it did no work of its own?
 *
 * 1. A minimal SMTP responder in this process (no parsing beyond the verb, no queue, no log,
 *    nothing kept), driven by Postfix's smtp-source exactly as bench/run.sh drives the servers:
 *    new connection per message, 2 KB, one recipient, 1 and 20 sessions.
 * 2. One 2 KB write + fdatasync into space already written (as the spool's segments do), one
 *    after another: what a single session must wait for once per message.
 *
 * A single session waits for every reply in turn, so its rate can be no better than
 * 1 / (responder's time per message + one flush). Compare that with twice Postfix's
 * single-session rate from bench/run.sh.
 *   node dist/bench/gateway-floor.js [MSGS=5000]
 * Needs smtp-source (Debian package postfix). Loopback only; removes what it writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const msgs = Number(process.argv[2] ?? 5000);

/** sink - replies at once to every command; nothing is parsed past the verb or kept. */
function sink(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.setEncoding('latin1');
    s.on('error', () => { /* the client may reset after QUIT */ });
    let buf = '', inData = false;
    s.write('220 floor ESMTP\r\n');
    s.on('data', (chunk: string) => {
      buf += chunk;
      for (let k = buf.indexOf('\r\n'); k >= 0; k = buf.indexOf('\r\n')) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 2);
        if (inData) { if (line === '.') { inData = false; s.write('250 2.0.0 Ok\r\n'); } continue; }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') s.write('250-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') { inData = true; s.write('354 End data with <CR><LF>.<CR><LF>\r\n'); }
        else if (verb === 'QUIT') s.end('221 2.0.0 Bye\r\n');
        else s.write('250 2.0.0 Ok\r\n');
      }
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, port: (server.address() as { port: number }).port })));
}

/** smtpSource - messages per second through smtp-source at SESSIONS concurrent sessions. */
async function smtpSource(port: number, sessions: number, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((res, rej) => {
    const p = spawn('smtp-source', ['-s', String(sessions), '-m', String(n), '-l', '2000', '-f', 'sender@example.org',
      '-t', 'user@example.test', '-M', 'client.example.org', `127.0.0.1:${port}`], { stdio: 'ignore' });
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error('smtp-source took over 120 s')); }, 120_000);
    p.on('exit', (code) => { clearTimeout(timer); code === 0 ? res() : rej(new Error(`smtp-source exited ${code}`)); });
    p.on('error', (e) => { clearTimeout(timer); rej(e); });
  });
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** flushMs - ms for one 2 KB write + fdatasync, one after another, into already-written space. */
function flushMs(n: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-floor-'));
  try {
    const fd = openSync(join(dir, 'seg'), 'w+');
    const record = Buffer.alloc(2048, 0x61);
    writeSync(fd, Buffer.alloc(n * 2048), 0, n * 2048, 0); // filled ahead, as a segment is
    fdatasyncSync(fd);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) { writeSync(fd, record, 0, record.length, i * 2048); fdatasyncSync(fd); }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    closeSync(fd);
    return ms;
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

if (spawnSync('smtp-source', [], { stdio: 'ignore' }).error) {
  console.error('gateway-floor: smtp-source not found (Debian package postfix)');
  process.exit(2);
}
const { server, port } = await sink();
try {
  await smtpSource(port, 20, Math.min(msgs, 2000)); // warm-up
  const one = await smtpSource(port, 1, msgs);
  const twenty = await smtpSource(port, 20, msgs);
  const flush = flushMs(2000);
  const floor = 1000 / (1000 / one + flush);
  console.log(`Node SMTP responder, nothing kept: ${Math.round(one)} msg/s on 1 session (${(1000 / one).toFixed(3)} ms a message), ${Math.round(twenty)} msg/s on 20`);
  console.log(`2 KB write + fdatasync into written space: ${flush.toFixed(3)} ms`);
  console.log(`single-session floor of a durable Node SMTP server here: ${Math.round(floor)} msg/s (${(1000 / floor).toFixed(3)} ms a message, with no work of its own)`);
} finally {
  server.close();
}
