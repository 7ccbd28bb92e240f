/**
 * Idle-connection footprint: opens N connections to a running mxguard (default 10,000), each
 * reads the greeting and then stays idle; reports the resident memory (VmRSS from /proc) of the
 * server and its workers before and after. Connections come from many 127.x.y.z source addresses so the
 * ephemeral port range is never the limit; loopback only.
 *   node dist/bench/idle-connections.js PORT SERVER_PID [N]
 */
import { connect, type Socket } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';

const [portArg, pidArg, nArg] = process.argv.slice(2);
if (!portArg || !pidArg) { console.error('usage: idle-connections.js PORT SERVER_PID [N]'); process.exit(2); }
const port = Number(portArg), pid = Number(pidArg), n = Number(nArg ?? 10000);

/** Resident memory of the server and its worker processes, MB. */
const rss = () => {
  const pids = [pid, ...readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid; } catch { return false; }
  }).map(Number)];
  return pids.reduce((sum, p) => {
    try { return sum + Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024; } catch { return sum; }
  }, 0);
};

const before = rss();
const sockets: Socket[] = [];
let greeted = 0;
const t0 = Date.now();
await new Promise<void>((resolve, reject) => {
  let opened = 0;
  const deadline = setTimeout(() => reject(new Error(`only ${greeted} of ${n} greeted in 120 s`)), 120000);
  const openOne = () => {
    if (opened >= n) return;
    const i = opened++;
    const s = connect({ port, host: '127.0.0.1', localAddress: `127.1.${(i >> 8) & 255}.${(i & 255) || 1}` });
    s.setEncoding('latin1');
    s.once('data', () => { greeted++; if (greeted === n) { clearTimeout(deadline); resolve(); } else openOne(); });
    s.on('error', (e) => { clearTimeout(deadline); reject(e); });
    sockets.push(s);
  };
  for (let k = 0; k < 200; k++) openOne(); // 200 handshakes in flight at a time
});
await new Promise((r) => setTimeout(r, 2000));
global.gc?.();
const after = rss();
console.log(`${n} idle connections: server RSS ${before.toFixed(0)} MB before, ${after.toFixed(0)} MB with all connected (${((after - before) * 1024 / n).toFixed(1)} KB each), opened in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const s of sockets) s.destroy();
