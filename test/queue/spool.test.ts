import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../src/queue/spool.js';
import { newQueueId, QUEUE_ID_RE, setQueueIdWorker } from '../../src/queue/queue-id.js';
import { QueueManager } from '../../src/queue/qmgr.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from '../delivery/config-helper.js';

function tmp(t: { after: (f: () => void) => void }) {
  const d = mkdtempSync(join(tmpdir(), 'mxg-spool-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('queue ids: Postfix-style upper-case hex, strictly increasing within a process, worker digit last', () => {
  setQueueIdWorker(3);
  const ids = Array.from({ length: 10000 }, () => newQueueId());
  setQueueIdWorker(0);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) { assert.match(id, QUEUE_ID_RE); assert.equal(id.length, 12); assert.equal(id.at(-1), '3'); }
  assert.deepEqual([...ids].sort(), ids, 'ids sort in the order they were made');
});

test('a committed message reads back with its envelope; an aborted one leaves nothing', async (t) => {
  const spool = new Spool(tmp(t));
  await spool.init();
  const w = await spool.create({ sender: 'a@x.test', recipients: [], arrival: 1 });
  await w.write(Buffer.from('Subject: hi\r\n\r\nbody\r\n'));
  await w.commit({ ...w.envelope, recipients: [{ address: 'b@y.test' }] });
  const m = await spool.read(w.envelope.id);
  assert.ok(m);
  assert.equal(m.envelope.sender, 'a@x.test');
  assert.deepEqual(m.envelope.recipients, [{ address: 'b@y.test' }]);
  assert.equal((await spool.readMessage(m)).toString(), 'Subject: hi\r\n\r\nbody\r\n');
  const a = await spool.create({ sender: '', recipients: [], arrival: 1 });
  await a.write(Buffer.from('x'));
  await a.abort();
  assert.deepEqual(readdirSync(spool.incomingDir), []);
  assert.deepEqual(await spool.list(), [w.envelope.id]);
});

test('group commit: concurrent commits share directory fsyncs, and every one is durable', async (t) => {
  const spool = new Spool(tmp(t));
  await spool.init();
  const writers = await Promise.all(Array.from({ length: 40 }, () => spool.create({ sender: 's@x.test', recipients: [{ address: 'r@y.test' }], arrival: 1 })));
  await Promise.all(writers.map(async (w, i) => { await w.write(Buffer.from(`message ${i}\r\n`)); await w.commit(); }));
  assert.equal((await spool.list()).length, 40);
  assert.ok(spool.directorySyncs < 40, `${spool.directorySyncs} directory syncs for 40 commits`);
  assert.ok(spool.directorySyncs >= 1);
});

test('recovery: unacknowledged files in incoming/ and incomplete files in active/ are removed; complete ones delivered', async (t) => {
  const dir = tmp(t);
  const spool = new Spool(join(dir, 'spool'));
  await spool.init();
  const good = await spool.create({ sender: 's@x.test', recipients: [{ address: 'u@example.test' }], arrival: Date.now() });
  await good.write(Buffer.from('Subject: good\r\n\r\nok\r\n'));
  await good.commit();
  const torn = await spool.create({ sender: 's@x.test', recipients: [{ address: 'u@example.test' }], arrival: Date.now() });
  await torn.write(Buffer.from('Subject: torn\r\n\r\n' + 'z'.repeat(1000) + '\r\n'));
  await torn.commit();
  truncateSync(spool.activePath(torn.envelope.id), statSync(spool.activePath(torn.envelope.id)).size - 100); // contents lost, rename kept
  writeFileSync(join(spool.incomingDir, 'ABCDEF012345'), 'partial');
  const cfg = testConfig({ virtual_mailbox_base: join(dir, 'mail'), mydestination: 'example.test', queue_directory: join(dir, 'spool'), maillog_file: join(dir, 'log') });
  const logger = createLogger({ file: join(dir, 'log'), host: 'mx', syslogName: 'postfix' });
  const q = new QueueManager(cfg, spool, logger);
  await q.start();
  const end = Date.now() + 5000;
  while ((await spool.list()).length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await q.stop(1000);
  logger.close();
  assert.deepEqual(readdirSync(spool.incomingDir), []);
  assert.deepEqual(await spool.list(), []);
  const files = readdirSync(join(dir, 'mail', 'example.test', 'u', 'new'));
  assert.equal(files.length, 1, 'only the complete message is delivered');
});

test('segments: concurrent small commits share fdatasyncs; unfinished records are recovered, torn ones dropped', async (t) => {
  const dir = tmp(t);
  const spool = new Spool(dir, { segments: true });
  await spool.init();
  const writers = await Promise.all(Array.from({ length: 40 }, () => spool.create({ sender: 's@x.test', recipients: [{ address: 'r@y.test' }], arrival: 1 })));
  const queued = await Promise.all(writers.map(async (w, i) => { await w.write(Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`)); await w.commit(); return w.queued(); }));
  assert.ok(spool.segments!.syncs < 40, `${spool.segments!.syncs} flushes for 40 commits`);
  assert.ok(queued.every((q) => q.segment && q.content));
  assert.deepEqual(await spool.list(), [], 'no per-message files for small messages');
  // 10 finished, 30 not: a "crash" now.
  for (const q of queued.slice(0, 10)) await spool.finish(q);
  await new Promise((r) => setImmediate(r)); // done marks are written once per event-loop turn
  const segFile = queued[0]!.segment!;
  const { appendFileSync } = await import('node:fs');
  appendFileSync(segFile, 'MXS1 0123456789AB 00000010 0000000000000100 deadbeef\n{"torn":'); // a record cut short
  const after = new Spool(dir);
  await after.init();
  assert.equal(await after.recoverSegments(), 30);
  const ids = await after.list();
  assert.equal(ids.length, 30);
  assert.deepEqual(new Set(ids), new Set(queued.slice(10).map((q) => q.envelope.id)));
  const m = await after.read(queued[39]!.envelope.id);
  assert.equal((await after.readMessage(m!)).toString(), 'Subject: 39\r\n\r\nbody 39\r\n');
  assert.deepEqual(readdirSync(after.segmentDir), [], 'recovered segments are removed');
});

test('group flush: callers during a flush share the next one; a failed flush does not wedge later ones', async () => {
  const { GroupFlush } = await import('../../src/queue/group-flush.js');
  let fail = true;
  let release!: () => void;
  const g = new GroupFlush(() => new Promise<void>((resolve, reject) => { release = () => (fail ? reject(new Error('EIO')) : resolve()); }));
  const first = g.sync();
  const second = g.sync(), third = g.sync();     // arrive during the first flush: share the next
  assert.equal(second, third);
  release();                                      // the first flush fails…
  await assert.rejects(first, /EIO/);
  fail = false;
  await new Promise((r) => setImmediate(r));
  release();                                      // …the next one still runs, and succeeds
  await second;
  assert.equal(g.count, 2);
  const later = g.sync();
  release();
  await later;
  assert.equal(g.count, 3);
});
