/**
 * The pre-greet screen (postscreen's pregreet test, cache and deep tests) through a real
 * `mxguard serve` with four services: drop, enforce with the deep tests, and no screen.
 * Clients come from distinct 127.0.1.x addresses so the cache of one test does not touch another;
 * the pause is 1 s (the smallest $postscreen_greet_wait), and "no pause" is shown by log lines
 * (PASS OLD, no CONNECT) rather than by timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { freePorts } from '../helpers/ports.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const BANNER = 'mx.example.test ESMTP mxguard';

/** A client and its local port (read at once: a closed socket no longer knows it). */
async function connect(t: { after(fn: () => unknown): void }, port: number, from: string): Promise<SmtpTestClient & { port: number }> {
  const c = await SmtpTestClient.connect(port, { localAddress: from });
  t.after(() => c.destroy());
  return Object.assign(c, { port: c.socket.localPort! });
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const line = (gw: Gateway, text: string, ms?: number) => gw.waitLog(new RegExp(`postscreen\\[\\d+\\]: ${esc(text)}\\n`), ms);

test('pre-greet screen: drop, enforce, PASS NEW then PASS OLD, deep tests, unscreened service', async (t) => {
  const [enforcePort, plainPort] = await freePorts(2);
  const gw = await startGateway(t, {
    mxguard_state_store: 'memory:', postscreen_greet_wait: '1s', smtpd_banner: BANNER,
    postscreen_access_list: 'permit_mynetworks, inline:{ 127.0.1.9=reject }', postscreen_denylist_action: 'drop',
  }, {
    master: (port) => [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      '  -o mxguard_pregreet_screen=yes -o postscreen_greet_action=drop',
      `127.0.0.1:${enforcePort} inet n - n - - smtpd`,
      '  -o mxguard_pregreet_screen=yes -o postscreen_greet_action=enforce',
      '  -o postscreen_pipelining_enable=yes -o postscreen_non_smtp_command_enable=yes',
      `127.0.0.1:${plainPort} inet n - n - - smtpd`,
      '',
    ].join('\n'),
  });
  const dropPort = gw.port;

  await t.test('an early talker is dropped with 521 on a drop service', async (t) => {
    const c = await connect(t, dropPort, '127.0.1.1');
    c.send('EHLO early.example\r\n');
    const r = await c.read(5000);
    assert.equal(r.raw, `220-${BANNER}\r\n521 5.5.1 Protocol error\r\n`);
    assert.ok(await c.closedByServer(5000));
    const p = c.port;
    await gw.waitLog(new RegExp(`postscreen\\[\\d+\\]: PREGREET 20 after \\d+(\\.\\d+)? from \\[127\\.0\\.1\\.1\\]:${p}: EHLO early\\.example\\\\r\\\\n\\n`));
    await line(gw, `DISCONNECT [127.0.1.1]:${p}`);
    await line(gw, `CONNECT from [127.0.1.1]:${p} to [127.0.0.1]:${dropPort}`);
  });

  await t.test('a patient client gets the multi-line greeting, PASS NEW, and next time PASS OLD without the teaser', async (t) => {
    const c = await connect(t, dropPort, '127.0.1.2');
    const r = await c.read(5000);
    assert.equal(r.raw, `220-${BANNER}\r\n220 ${BANNER}\r\n`);
    assert.equal((await c.cmd('EHLO patient.example')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).code, 250);
    await c.cmd('QUIT');
    await line(gw, `PASS NEW [127.0.1.2]:${c.port}`);

    const c2 = await connect(t, dropPort, '127.0.1.2');
    const r2 = await c2.read(5000);
    assert.equal(r2.raw, `220 ${BANNER}\r\n`);
    await c2.cmd('QUIT');
    const p2 = c2.port;
    await line(gw, `PASS OLD [127.0.1.2]:${p2}`);
    assert.doesNotMatch(gw.log(), new RegExp(`PASS NEW \\[127\\.0\\.1\\.2\\]:${p2}`));
  });

  await t.test('an early talker on an enforce service is refused at RCPT TO with 550, helo and addresses logged', async (t) => {
    const c = await connect(t, enforcePort, '127.0.1.3');
    c.send('EHLO early.example\r\n');
    assert.equal((await c.read(5000)).raw, `220-${BANNER}\r\n220 ${BANNER}\r\n`);
    assert.equal((await c.read(5000)).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).raw, '550 5.5.1 Protocol error\r\n');
    assert.equal((await c.cmd('QUIT')).raw, '221 2.0.0 Bye\r\n');
    const p = c.port;
    await line(gw, `NOQUEUE: reject: RCPT from [127.0.1.3]:${p}: 550 5.5.1 Protocol error; from=<a@remote.test>, to=<bob@example.test>, proto=ESMTP, helo=<early.example>`);
    assert.doesNotMatch(gw.log(), /PASS NEW \[127\.0\.1\.3\]/);
  });

  await t.test('deep tests: a new client is told 450 4.3.2 and passes; its reconnection goes to the real session', async (t) => {
    const c = await connect(t, enforcePort, '127.0.1.4');
    assert.equal((await c.read(5000)).raw, `220-${BANNER}\r\n220 ${BANNER}\r\n`);
    const ehlo = await c.cmd('EHLO deep.example');
    assert.ok(!ehlo.text.includes('PIPELINING'));
    await c.cmd('MAIL FROM:<a@remote.test>');
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).raw, '450 4.3.2 Service currently unavailable\r\n');
    await c.cmd('QUIT');
    await line(gw, `PASS NEW [127.0.1.4]:${c.port}`);

    const c2 = await connect(t, enforcePort, '127.0.1.4');
    assert.equal((await c2.read(5000)).raw, `220 ${BANNER}\r\n`);
    await c2.cmd('EHLO deep.example');
    await c2.cmd('MAIL FROM:<a@remote.test>');
    assert.equal((await c2.cmd('RCPT TO:<bob@example.test>')).code, 250);
    await c2.cmd('QUIT');
    await line(gw, `PASS OLD [127.0.1.4]:${c2.port}`);
  });

  await t.test('deep tests: pipelining is enforced at RCPT TO, a non-SMTP command is dropped', async (t) => {
    const c = await connect(t, enforcePort, '127.0.1.5');
    assert.equal((await c.read(5000)).code, 220);
    c.send('EHLO pipe.example\r\nMAIL FROM:<a@remote.test>\r\n');
    assert.equal((await c.read(5000)).code, 250);
    assert.equal((await c.read(5000)).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).raw, '550 5.5.1 Protocol error\r\n');
    await c.cmd('QUIT');
    await line(gw, `COMMAND PIPELINING from [127.0.1.5]:${c.port} after EHLO: MAIL FROM:<a@remote.test>\\r\\n`);

    const c2 = await connect(t, enforcePort, '127.0.1.6');
    assert.equal((await c2.read(5000)).code, 220);
    assert.equal((await c2.cmd('GET / HTTP/1.0')).raw, '521 5.7.0 Error: I can break rules, too. Goodbye.\r\n');
    assert.ok(await c2.closedByServer(5000));
    await line(gw, `NON-SMTP COMMAND from [127.0.1.6]:${c2.port} after CONNECT: GET / HTTP/1.0`);
  });

  await t.test('a client that hangs up during the pause is logged HANGUP', async (t) => {
    const c = await connect(t, dropPort, '127.0.1.8');
    const p = c.port;
    await line(gw, `CONNECT from [127.0.1.8]:${p} to [127.0.0.1]:${dropPort}`);
    c.socket.end();
    await gw.waitLog(new RegExp(`postscreen\\[\\d+\\]: HANGUP after \\d+(\\.\\d+)? from \\[127\\.0\\.1\\.8\\]:${p} in tests before SMTP handshake\\n`));
  });

  await t.test('postscreen_access_list: $mynetworks is ALLOWLISTED without a pause, a reject entry is DENYLISTED and dropped', async (t) => {
    const c = await connect(t, dropPort, '127.0.0.1');
    assert.equal((await c.read(5000)).raw, `220 ${BANNER}\r\n`);
    await c.cmd('QUIT');
    await line(gw, `ALLOWLISTED [127.0.0.1]:${c.port}`);

    const c2 = await connect(t, dropPort, '127.0.1.9');
    assert.equal((await c2.read(5000)).raw, '521 5.3.2 Service currently unavailable\r\n');
    assert.ok(await c2.closedByServer(5000));
    await line(gw, `DENYLISTED [127.0.1.9]:${c2.port}`);
    await line(gw, `DISCONNECT [127.0.1.9]:${c2.port}`);
  });

  await t.test('a service that does not opt in has no pause and no postscreen lines', async (t) => {
    const c = await connect(t, plainPort, '127.0.1.7');
    assert.equal((await c.read(5000)).raw, `220 ${BANNER}\r\n`);
    await c.cmd('QUIT');
    await gw.waitLog(/disconnect from unknown\[127\.0\.1\.7\]/);
    assert.doesNotMatch(gw.log(), /postscreen\[\d+\]: .*127\.0\.1\.7/);
  });
});
