/**
 * A message larger than the in-memory limit of the spool writer (256 KB), sent in one write:
 * the end-of-data line arrives while the server is still writing the start to disk, and must
 * still be seen (it once was not, and the session waited for input that never came).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

test('messages of 300 KB to 3 MB sent in one write are acknowledged', async (t) => {
  const gw = await startGateway(t, {});
  for (const size of [300_000, 700_000, 3_000_000]) {
    const c = await SmtpTestClient.connect(gw.port);
    try {
      await c.read();
      await c.cmd('EHLO client.example.test');
      assert.equal((await c.cmd('MAIL FROM:<a@example.test>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      const line = `${'x'.repeat(76)}\r\n`;
      const body = `Subject: big\r\n\r\n${line.repeat(Math.ceil(size / line.length))}.\r\n`;
      c.send(body);
      const r = await c.read(15_000);
      assert.equal(r.code, 250, `${size} bytes: ${r.raw}`);
      assert.match(r.raw, /queued as/);
    } finally { c.socket.destroy(); }
  }
});
