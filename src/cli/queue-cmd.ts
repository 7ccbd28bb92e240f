/**
 * @module cli/queue-cmd
 * `mxguard queue`: list the queue like mailq(1); `show ID` prints a message like postcat -q;
 * `flush` asks the running server to retry everything now (SIGUSR1, like postqueue -f);
 * `delete ID|ALL` removes messages like postsuper -d; `release ID|ALL` lets messages that an
 * access(5) HOLD action put on hold be delivered, like postsuper -H.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { Spool, type QueuedMessage } from '../queue/spool.js';
import { markDone, pendingRecords, type SegmentRecord } from '../queue/segment.js';
import { QUEUE_ID_RE } from '../queue/queue-id.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function mailqDate(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

function open(dir?: string) {
  const { config } = loadConfig({ dir });
  return { config, spool: new Spool(config.get('queue_directory')) };
}

/** Every queued message: queue files, and group-commit records whose first delivery is pending. */
async function allMessages(spool: Spool): Promise<(QueuedMessage & { record?: SegmentRecord })[]> {
  const out: (QueuedMessage & { record?: SegmentRecord })[] = [];
  const seen = new Set<string>();
  for (const id of await spool.list()) {
    const m = await spool.read(id);
    if (m) { out.push(m); seen.add(id); }
  }
  for (const r of pendingRecords(spool.segmentDir)) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push({ envelope: r.envelope, state: { done: [], attempts: 0, nextAttempt: 0 }, offset: 0, size: r.message.length, content: r.message, segment: r.segment, record: r });
  }
  return out.sort((a, b) => a.envelope.id.localeCompare(b.envelope.id));
}

export async function queueList(opts: { config?: string }): Promise<number> {
  const { spool } = open(opts.config);
  const msgs = await allMessages(spool);
  if (!msgs.length) { process.stdout.write('Mail queue is empty\n'); return 0; }
  let out = '-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n';
  let bytes = 0, n = 0;
  for (const m of msgs) {
    const id = m.envelope.id;
    n++; bytes += m.size;
    const pad = ' '.repeat(42);
    // mailq columns: id (12), size (8), arrival (20), sender.
    // mailq marks a message on hold with "!" after its id.
    out += `${(m.state.held ? `${id}!` : id).padEnd(12)}${String(m.size).padStart(8)} ${mailqDate(m.envelope.arrival)}  ${m.envelope.sender || 'MAILER-DAEMON'}\n`;
    const done = new Set(m.state.done);
    for (const r of m.envelope.recipients) {
      if (done.has(r.address)) continue;
      const why = m.state.reasons?.[r.address];
      if (why) out += `${pad}(${why.slice(0, 200)})\n`;
      out += `${pad}${r.address}\n`;
    }
    out += '\n';
  }
  out += `-- ${Math.ceil(bytes / 1024)} Kbytes in ${n} Request${n === 1 ? '' : 's'}.\n`;
  process.stdout.write(out);
  return 0;
}

export async function queueShow(id: string, opts: { config?: string }): Promise<number> {
  const { spool } = open(opts.config);
  const m = (await allMessages(spool)).find((x) => x.envelope.id === id);
  if (!m) { process.stderr.write(`mxguard: queue: no message with id ${id}\n`); return 1; }
  const e = m.envelope;
  let out = `*** ENVELOPE RECORDS ${id} ***\n`;
  out += `message_size: ${m.size}\narrival_time: ${new Date(e.arrival).toString()}\nsender: ${e.sender}\n`;
  if (e.client) out += `client: ${e.client}\n`;
  const done = new Set(m.state.done);
  for (const r of e.recipients) out += `${done.has(r.address) ? 'done_recipient' : 'recipient'}: ${r.address}\n`;
  out += `*** MESSAGE CONTENTS ${id} ***\n`;
  process.stdout.write(out);
  const body = (await spool.readMessage(m)).toString('utf8').replace(/\r\n/g, '\n');
  process.stdout.write(body);
  process.stdout.write(`${body.endsWith('\n') ? '' : '\n'}*** END OF MESSAGE ${id} ***\n`);
  return 0;
}

export function queueFlush(opts: { config?: string }): number {
  const { config } = open(opts.config);
  const pidFile = config.get('mxguard_pid_file');
  let pid: number;
  try { pid = Number(readFileSync(pidFile, 'utf8').trim()); } catch {
    process.stderr.write(`mxguard: queue flush: no running server (no ${pidFile})\n`);
    return 1;
  }
  try { process.kill(pid, 'SIGUSR1'); } catch {
    process.stderr.write(`mxguard: queue flush: server ${pid} from ${pidFile} is not running\n`);
    return 1;
  }
  process.stdout.write(`flush requested from the server (pid ${pid})\n`);
  return 0;
}

export async function queueDelete(which: string[], opts: { config?: string }): Promise<number> {
  const { config, spool } = open(opts.config);
  const logger = createLogger({ file: config.get('maillog_file'), host: config.get('myhostname'), syslogName: config.get('syslog_name') });
  const msgs = await allMessages(spool);
  const ids = which.length === 1 && which[0] === 'ALL' ? msgs.map((m) => m.envelope.id) : which;
  let n = 0, bad = 0;
  for (const id of ids) {
    if (!QUEUE_ID_RE.test(id)) { process.stderr.write(`mxguard: queue delete: bad queue id "${id}"\n`); bad++; continue; }
    const rec = msgs.find((m) => m.envelope.id === id && m.record);
    // XXX: a record whose first delivery is running at this moment may still be delivered.
    if (rec?.segment) { markDone(rec.segment, id); n++; logger.line('postsuper', `${id}: removed`); }
    else if (await spool.remove(id)) { n++; logger.line('postsuper', `${id}: removed`); }
    else { process.stderr.write(`mxguard: queue delete: ${id}: no such message\n`); bad++; }
  }
  if (n) logger.line('postsuper', `Deleted: ${n} message${n === 1 ? '' : 's'}`);
  process.stdout.write(`Deleted: ${n} message${n === 1 ? '' : 's'}\n`);
  logger.close();
  return bad && !n ? 1 : 0;
}

export async function queueRelease(which: string[], opts: { config?: string }): Promise<number> {
  const { config, spool } = open(opts.config);
  const logger = createLogger({ file: config.get('maillog_file'), host: config.get('myhostname'), syslogName: config.get('syslog_name') });
  const msgs = await allMessages(spool);
  const ids = which.length === 1 && which[0] === 'ALL' ? msgs.filter((m) => m.state.held).map((m) => m.envelope.id) : which;
  let n = 0, bad = 0;
  for (const id of ids) {
    const m = msgs.find((x) => x.envelope.id === id);
    if (!m || !m.state.held) { process.stderr.write(`mxguard: queue release: ${id}: no such message on hold\n`); bad++; continue; }
    await spool.writeState(id, { ...m.state, held: false, released: true, nextAttempt: 0 });
    logger.line('postsuper', `${id}: released from hold`);
    n++;
  }
  if (n) logger.line('postsuper', `Released from hold: ${n} message${n === 1 ? '' : 's'}`);
  process.stdout.write(`Released from hold: ${n} message${n === 1 ? '' : 's'}\n`);
  logger.close();
  // The running server picks them up at its next queue scan, or now with a flush.
  if (n) { try { process.kill(Number(readFileSync(config.get('mxguard_pid_file'), 'utf8').trim()), 'SIGUSR1'); } catch { /* not running */ } }
  return bad && !n ? 1 : 0;
}
