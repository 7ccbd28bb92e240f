/**
 * SpoolWriter.prepend, which puts the Authentication-Results: header on top of a message at
 * commit: in memory for a small message, by a one-time copy for one already in its queue file;
 * an abort afterwards leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../src/queue/spool.js';

for (const segments of [false, true]) {
  for (const size of [1000, 600 * 1024]) {
    test(`prepend (segments=${segments}, ${size} bytes)`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'mxg-prepend-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const spool = new Spool(dir, { segments });
      await spool.init();
      const w = await spool.create({ sender: 'a@b.test', recipients: [{ address: 'c@d.test' }], arrival: Date.now() });
      const body = Buffer.alloc(size, 'x');
      for (let i = 0; i < body.length; i += 8192) await w.write(body.subarray(i, i + 8192));
      await w.prepend(Buffer.from('Authentication-Results: mx.example.test; none\r\n'));
      await w.commit();
      const m = w.queued();
      assert.equal(m.size, size + 47);
      const text = await spool.readMessage(m);
      assert.equal(text.subarray(0, 47).toString(), 'Authentication-Results: mx.example.test; none\r\n');
      assert.ok(text.subarray(47).equals(body));
      if (!m.content) {
        const again = await spool.read(m.envelope.id);
        assert.equal(again?.size, size + 47, 'the queue file records the new length');
      }
      assert.deepEqual(readdirSync(join(dir, 'incoming')), [], 'no copy left behind');

      const w2 = await spool.create({ sender: 'a@b.test', recipients: [{ address: 'c@d.test' }], arrival: Date.now() });
      for (let i = 0; i < body.length; i += 8192) await w2.write(body.subarray(i, i + 8192));
      await w2.prepend(Buffer.from('X: y\r\n'));
      await w2.abort();
      assert.deepEqual(readdirSync(join(dir, 'incoming')), [], 'abort after prepend removes the file');
      await assert.rejects(w2.prepend(Buffer.from('X: z\r\n')), /after commit or abort/);
    });
  }
}
