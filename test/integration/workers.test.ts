/**
 * mxguard_workers = 2: listener workers accept, group-commit and make the first delivery
 * attempt; the primary owns retries and recovers what a dead worker left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { startSink } from '../helpers/smtp-sink.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { runCli } from '../helpers/run-cli.js';
import { connectClient, gwMaildir, maildirTexts, messageText, queuedId, sendMessage, sleep, token, waitFor } from './util.js';

test('two workers: mail is accepted and delivered; a deferral is retried by the primary', async (t) => {
  const replies: Record<string, string> = { 'later@remote.test': '450 4.2.1 <later@remote.test>: try again' };
  const sink = await startSink(t, { rcptReplies: replies });
  const gw = await startGateway(t, { mxguard_workers: '2', relayhost: `[127.0.0.1]:${sink.port}`, default_transport: 'smtp' });
  await gw.waitLog(/daemon started .* with 2 workers/);
  const toks: string[] = [];
  for (let i = 0; i < 6; i++) {
    const { c } = await connectClient(t, gw.port);
    await c.cmd('EHLO w.client.test');
    const tok = token('w');
    toks.push(tok);
    assert.equal((await sendMessage(c, 'a@remote.test', ['wuser@example.test'], messageText({ from: 'a@remote.test', to: 'wuser@example.test', subject: tok }))).code, 250);
    await c.cmd('QUIT');
  }
  await waitFor(() => toks.every((tk) => maildirTexts(gwMaildir(gw, 'wuser')).some((m) => m.includes(tk))), 'all six in Maildir');
  const pids = new Set([...gw.log().matchAll(/postfix\/smtpd\[(\d+)\]: connect from/g)].map((m) => m[1]));
  assert.ok(pids.size >= 1);

  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO w.client.test');
  const later = token('later');
  const id = queuedId(await sendMessage(c, 'a@example.test', ['later@remote.test'], messageText({ from: 'a@example.test', to: 'later@remote.test', subject: later })));
  await gw.waitLog(new RegExp(`${id}: to=<later@remote\\.test>, .*status=deferred`));
  delete replies['later@remote.test'];
  await sleep(200);
  assert.equal((await runCli(['queue', 'flush', '--config', gw.dir])).code, 0);
  await gw.waitLog(new RegExp(`${id}: to=<later@remote\\.test>, .*status=sent`));
  assert.ok(sink.messages.some((m) => m.data.toString().includes(later)));
});

test('two workers, kill -9 of the server under load: every acknowledged message is delivered after restart', async (t) => {
  const gw = await startGateway(t, { mxguard_workers: '2' });
  const acked = new Set<string>();
  let running = true;
  const client = async (n: number) => {
    let c: SmtpTestClient | undefined;
    try {
      c = await SmtpTestClient.connect(gw.port);
      await c.read();
      await c.cmd(`EHLO l${n}.client.test`);
      for (let i = 0; running; i++) {
        const subject = `wl-${n}-${i}-${token('k')}`;
        const r = await sendMessage(c, 'l@remote.test', ['wload@example.test'], messageText({ from: 'l@remote.test', to: 'wload@example.test', subject }));
        if (r.code === 250) acked.add(subject);
      }
    } catch { /* the server died under us */ } finally { c?.destroy(); }
  };
  const all = Array.from({ length: 8 }, (_, n) => client(n));
  await sleep(1500);
  await gw.stop('SIGKILL');
  running = false;
  await Promise.all(all);
  assert.ok(acked.size > 0);
  await sleep(300); // the orphaned workers notice the primary is gone and exit
  await gw.start();
  await waitFor(() => {
    const texts = maildirTexts(gwMaildir(gw, 'wload')).join('\n');
    return [...acked].every((s) => texts.includes(s));
  }, () => `every one of ${acked.size} acknowledged messages in Maildir`, 60_000);
});

test('two workers: the connection count limit is kept by the primary across workers', async (t) => {
  const gw = await startGateway(t, { mxguard_workers: '2', smtpd_client_connection_count_limit: '2', smtpd_client_event_limit_exceptions: '' });
  const held: SmtpTestClient[] = [];
  t.after(() => held.forEach((c) => c.destroy()));
  // Enough connections that both workers get some; only two may be open at once from one address.
  let refused = 0, greeted = 0;
  for (let i = 0; i < 6; i++) {
    const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.50' });
    held.push(c);
    const r = await c.read();
    if (r.code === 220) greeted++;
    else if (r.code === 421) { refused++; assert.equal(r.text[0], 'mx.example.test Error: too many connections from 127.0.0.50'); }
  }
  assert.equal(greeted, 2);
  assert.equal(refused, 4);
  const pids = new Set([...gw.log().matchAll(/postfix\/smtpd\[(\d+)\]: (?:connect from|warning: Connection concurrency)/g)].map((m) => m[1]));
  t.diagnostic(`sessions handled by ${pids.size} worker(s)`);
  // Closing one frees a slot.
  held[0]!.destroy();
  await sleep(300);
  const again = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.50' });
  held.push(again);
  assert.equal((await again.read()).code, 220);
});
