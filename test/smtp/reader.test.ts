/**
 * Byte-level tests of the strict SMTP input reader: only CRLF ends a line; only CRLF.CRLF
 * ends DATA; dot-unstuffing; limits. Each vector is fed in one piece and byte by byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { InputReader, type BdatState } from '../../src/smtp/reader.js';

function feed(input: string | Buffer, bytewise = false) {
  const s = new PassThrough();
  const r = new InputReader(s as unknown as Socket);
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  setImmediate(() => {
    if (bytewise) for (const b of buf) s.write(Buffer.from([b]));
    else s.write(buf);
    s.end();
  });
  return r;
}

async function lines(input: string, bytewise = false) {
  const r = feed(input, bytewise);
  const out: string[] = [];
  for (;;) {
    const l = await r.readLine(64, 1000);
    if (l.kind === 'eof') break;
    out.push(l.kind === 'line' ? `line:${l.line.toString('latin1')}` : l.kind);
  }
  return out;
}

async function data(input: string, bytewise = false) {
  const r = feed(input, bytewise);
  const chunks: Buffer[] = [];
  const res = await r.readData(100, 1000, (c) => { chunks.push(Buffer.from(c)); });
  const after = await r.readLine(64, 1000);
  return { res, text: Buffer.concat(chunks).toString('latin1'), after: after.kind === 'line' ? after.line.toString('latin1') : after.kind };
}

test('command lines end only in CRLF; bare LF and bare CR are reported', async () => {
  for (const bw of [false, true]) {
    assert.deepEqual(await lines('HELO a\r\nNOOP\r\n', bw), ['line:HELO a', 'line:NOOP']);
    assert.deepEqual(await lines('HELO a\nNOOP\r\n', bw), ['bare-newline', 'line:NOOP']);       // bare LF
    assert.deepEqual(await lines('HELO a\rNOOP\r\n', bw), ['bare-newline']);                    // bare CR inside a line
    assert.deepEqual(await lines('x'.repeat(100) + '\r\nNOOP\r\n', bw), ['too-long', 'line:NOOP']); // over 64 octets
    assert.deepEqual(await lines('NOOP', bw), []);                                               // no line end: nothing
  }
});

test('DATA ends only at CRLF.CRLF; lines are dot-unstuffed', async () => {
  for (const bw of [false, true]) {
    let d = await data('a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n', bw);
    assert.equal(d.res.kind, 'done');
    assert.equal(d.text, 'a\r\n.b\r\nc\r\n');
    assert.equal(d.after, 'QUIT');
    d = await data('.\r\nNEXT\r\n', bw);                    // empty message
    assert.equal(d.text, ''); assert.equal(d.after, 'NEXT');
  }
});

test('smuggling sequences never end DATA and are flagged', async () => {
  const vectors = ['a\n.\nMAIL\r\n', 'a\n.\r\nMAIL\r\n', 'a\r\n.\nMAIL\r\n', 'a\r.\r\nMAIL\r\n', 'a\r\n.\rMAIL\r\n'];
  for (const v of vectors) {
    for (const bw of [false, true]) {
      const d = await data(v + 'real end\r\n.\r\nQUIT\r\n', bw);
      assert.equal(d.res.kind, 'done', JSON.stringify(v));
      assert.equal(d.res.kind === 'done' && d.res.flags.bareNewline, true, JSON.stringify(v));
      assert.match(d.text, /MAIL\r\nreal end\r\n$/, `the smuggled command stays message text (${JSON.stringify(v)})`);
      assert.equal(d.after, 'QUIT');
    }
  }
});

test('DATA flags NUL bytes and over-long lines but reads on to the terminator', async () => {
  let d = await data('a\0b\r\n.\r\nQUIT\r\n');
  assert.ok(d.res.kind === 'done' && d.res.flags.nul);
  d = await data('y'.repeat(150) + '\r\n.\r\nQUIT\r\n');
  assert.ok(d.res.kind === 'done' && d.res.flags.longLine);
  assert.equal(d.after, 'QUIT');
  d = await data('no end');
  assert.equal(d.res.kind, 'eof');
});

test('BDAT chunks are read exactly, with bare CR/LF spotted across chunk boundaries', async () => {
  const r = feed('ab\r' + '\ncd' + 'e\nNOOP\r\n');
  const st: BdatState = { lastCR: false, flags: { bareNewline: false, nul: false, longLine: false } };
  const got: Buffer[] = [];
  assert.equal(await r.readChunk(3, 1000, st, (c) => { got.push(Buffer.from(c)); }), 'done');
  assert.equal(st.lastCR, true);
  assert.equal(await r.readChunk(3, 1000, st, (c) => { got.push(Buffer.from(c)); }), 'done');
  assert.equal(st.flags.bareNewline, false, 'CR at the end of one chunk and LF at the start of the next is a CRLF');
  assert.equal(await r.readChunk(2, 1000, st, (c) => { got.push(Buffer.from(c)); }), 'done');
  assert.equal(st.flags.bareNewline, true);
  assert.equal(Buffer.concat(got).toString(), 'ab\r\ncde\n');
  const l = await r.readLine(64, 1000);
  assert.equal(l.kind === 'line' && l.line.toString(), 'NOOP');
});

test('a silent client times out', async () => {
  const s = new PassThrough();
  const r = new InputReader(s as unknown as Socket);
  assert.equal((await r.readLine(64, 50)).kind, 'timeout');
  assert.equal((await r.readData(100, 50, () => {})).kind, 'timeout');
  s.destroy();
});
