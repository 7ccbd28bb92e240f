/**
 * Seeded random input against a real gateway: mutated commands, random bytes, broken line
 * ends, huge lines, half-finished DATA and BDAT. The server must answer or close, never crash
 * or hang, and keep serving a well-behaved client afterwards. The seed is printed, so a failure
 * can be replayed (MXGUARD_FUZZ_SEED).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

/** mulberry32: a small deterministic generator. */
function rng(seed: number) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERBS = ['HELO x.test', 'EHLO x.test', 'MAIL FROM:<a@remote.test>', 'MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8', 'RCPT TO:<u@example.test>',
  'RCPT TO:<"q u"@example.test> NOTIFY=NEVER', 'DATA', 'BDAT 5', 'BDAT 0 LAST', 'RSET', 'NOOP', 'VRFY u', 'ETRN example.test', 'STARTTLS',
  'AUTH PLAIN AGFAAGI=', 'AUTH LOGIN', 'QUIT', 'XCLIENT ADDR=1.2.3.4', 'MAIL FROM:<@a,@b:u@remote.test>', 'RCPT TO:<u%v@example.test>'];
const ENDS = ['\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '\0\r\n', ''];

function mutate(r: () => number, s: string): string {
  const k = Math.floor(r() * 6);
  if (k === 0) return s;
  if (k === 1) return s.slice(0, Math.floor(r() * s.length));
  if (k === 2) { const i = Math.floor(r() * (s.length + 1)); return s.slice(0, i) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(i); }
  if (k === 3) return s.toLowerCase();
  if (k === 4) return s + ' ' + 'Z'.repeat(Math.floor(r() * 3000));
  return Array.from({ length: Math.floor(r() * 40) }, () => String.fromCharCode(Math.floor(r() * 256))).join('');
}

function session(port: number, payload: Buffer): Promise<{ replies: number; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (closed: boolean) => { clearTimeout(t); s.destroy(); resolve({ replies: (got.match(/^\d{3} /gm) ?? []).length, closed }); };
    const t = setTimeout(() => done(false), 4000);
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => done(true));
    s.once('data', () => { s.write(payload); setTimeout(() => s.end(), 300); });
  });
}

test('random and malformed input never crashes or wedges the server', async (t) => {
  const seed = Number(process.env.MXGUARD_FUZZ_SEED ?? 20261127); // fixed in CI; set it to explore
  t.diagnostic(`fuzz seed ${seed}`);
  const r = rng(seed);
  const gw = await startGateway(t, { smtpd_timeout: '3s', smtpd_hard_error_limit: '50', message_size_limit: '100000' });
  for (let round = 0; round < 12; round++) {
    const batch: Promise<{ replies: number; closed: boolean }>[] = [];
    for (let k = 0; k < 10; k++) {
      let text = '';
      const n = 1 + Math.floor(r() * 25);
      for (let i = 0; i < n; i++) {
        let line = mutate(r, VERBS[Math.floor(r() * VERBS.length)]!);
        if (r() < 0.1) line += '\r\nSubject: x\r\n\r\nbody\n.\nMAIL FROM:<smuggled@remote.test>'; // exact smuggling checks: session.test.ts
        text += line + ENDS[Math.floor(r() * ENDS.length)]!;
      }
      batch.push(session(gw.port, Buffer.from(text, 'latin1')));
    }
    const results = await Promise.all(batch);
    for (const x of results) assert.ok(x.replies >= 1, `every session got at least the greeting (seed ${seed})`);
  }
  assert.equal(gw.proc.exitCode, null, `the server is still running (seed ${seed}); stderr: ${gw.stderr()}`);
  assert.doesNotMatch(gw.stderr(), /TypeError|RangeError|ReferenceError|Unhandled|fatal/, `seed ${seed}`);
  assert.doesNotMatch(gw.log(), /internal error/, `seed ${seed}`);
  // A well-behaved client is still served, start to finish.
  const c = await SmtpTestClient.connect(gw.port);
  t.after(() => c.destroy());
  assert.equal((await c.read()).code, 220);
  assert.equal((await c.cmd('EHLO good.example')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<fuzzed@example.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  assert.equal((await c.cmd('Subject: after the storm\r\n\r\nok\r\n.')).code, 250);
});
