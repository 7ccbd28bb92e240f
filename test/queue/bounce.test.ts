import assert from 'node:assert/strict';
import test from 'node:test';
import { buildBounceMessage, isBounceable, rfc5322Date, type BounceInput } from '../../src/queue/bounce.js';

const ORIGINAL_HEADERS = [
  'Return-Path: <alice@sender.test>',
  'From: Alice <alice@sender.test>',
  'To: bob@rcpt.test, carol@rcpt.test',
  'Subject: quarterly numbers',
  'Message-ID: <q1@sender.test>',
  'MIME-Version: 1.0',
];
const BODY = Array.from({ length: 20 }, (_, i) => `body line ${String(i).padStart(2, '0')} ${'x'.repeat(60)}`);
const ORIGINAL = Buffer.from([...ORIGINAL_HEADERS, '', ...BODY, ''].join('\r\n'));

function input(over: Partial<BounceInput> = {}): BounceInput {
  return {
    reportingMta: 'mx.example.test',
    queueId: '4QzR7x1Kp9',
    originalSender: 'alice@sender.test',
    arrivalDate: new Date('2025-03-01T10:00:00Z'),
    kind: 'failure',
    recipients: [
      {
        address: 'bob@rcpt.test', origAddress: 'rfc822;Bob@rcpt.test', dsn: '5.1.1', remoteMta: 'mx1.rcpt.test',
        diagnostic: '550 5.1.1 <bob@rcpt.test>: Recipient address rejected: User unknown in local recipient table',
      },
      { address: 'carol@rcpt.test', dsn: '5.4.6', diagnostic: 'mail forwarding loop for carol@rcpt.test' },
    ],
    original: ORIGINAL,
    sizeLimit: 50000,
    now: new Date('2025-03-02T11:12:13Z'),
    ...over,
  };
}

interface Part { headers: Map<string, string>; body: string }

/** Unfolded header fields, names lower-cased (RFC 5322 §2.2.3). */
function parseHeaders(block: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of block.split(/\r\n(?![ \t])/)) {
    const i = f.indexOf(':');
    m.set(f.slice(0, i).toLowerCase(), f.slice(i + 1).replace(/\r\n[ \t]/g, ' ').trim());
  }
  return m;
}

function split(text: string): Part {
  const i = text.indexOf('\r\n\r\n');
  return { headers: parseHeaders(text.slice(0, i)), body: text.slice(i + 4) };
}

/** The notice's headers, its boundary and its parts (RFC 2046 §5.1.1 framing). */
function parse(msg: Buffer): { top: Part; boundary: string; parts: Part[]; epilogue: string } {
  const text = msg.toString('latin1');
  const top = split(text);
  const boundary = /boundary="([^"]+)"/.exec(top.headers.get('content-type')!)![1]!;
  const pieces = top.body.split(`\r\n--${boundary}`);
  const last = pieces.pop()!;
  assert.ok(last.startsWith('--'), 'closing delimiter');
  return { top, boundary, parts: pieces.slice(1).map((p) => split(p.replace(/^\r\n/, ''))), epilogue: last.slice(2) };
}

/** DSN field groups: per-message first, then one per recipient (RFC 3464 §2.1). */
function dsnGroups(body: string): Map<string, string>[] {
  return body.replace(/(\r\n)+$/, '').split('\r\n\r\n').map(parseHeaders);
}

function assertWireSafe(msg: Buffer, sevenBit: boolean) {
  const text = msg.toString('latin1');
  assert.equal(/[^\r]\n|\r(?!\n)/.test(text), false, 'every line ends in CRLF');
  for (const line of text.split('\r\n')) assert.ok(Buffer.byteLength(line, 'latin1') <= 998, `line of ${line.length} octets`);
  if (sevenBit) assert.equal(msg.some((c) => c > 0x7f || c === 0), false, 'seven-bit');
}

test('a failure notice: headers, three parts, per-recipient fields', () => {
  const msg = buildBounceMessage(input());
  assertWireSafe(msg, true);
  const { top, boundary, parts, epilogue } = parse(msg);
  const h = top.headers;
  assert.equal(h.get('from'), 'MAILER-DAEMON@mx.example.test (Mail Delivery System)');
  assert.equal(h.get('to'), 'alice@sender.test');
  assert.equal(h.get('subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(h.get('auto-submitted'), 'auto-replied');
  assert.equal(h.get('mime-version'), '1.0');
  assert.equal(h.get('date'), rfc5322Date(new Date('2025-03-02T11:12:13Z')));
  assert.match(h.get('date')!, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
  assert.match(h.get('message-id')!, /^<[^<>@\s]+@mx\.example\.test>$/);
  assert.match(h.get('content-type')!, /^multipart\/report; report-type=delivery-status; boundary="[^"]+"$/);
  assert.ok(boundary.length <= 70 && /^[0-9A-Za-z'()+_,./:=?-]+$/.test(boundary), boundary);
  assert.equal(epilogue, '\r\n');
  assert.equal(parts.length, 3);

  // Part 1: for people.
  assert.equal(parts[0]!.headers.get('content-type'), 'text/plain; charset=us-ascii');
  const human = parts[0]!.body;
  assert.match(human, /^This is the mail system at host mx\.example\.test\.\r\n/);
  assert.match(human, /could not be delivered/);
  assert.match(human.replace(/\r\n +/g, ' '), /<bob@rcpt\.test>: host mx1\.rcpt\.test said: 550 5\.1\.1 <bob@rcpt\.test>: Recipient address rejected: User unknown in local recipient table/);
  assert.match(human, /<carol@rcpt\.test>: mail forwarding loop for carol@rcpt\.test/);

  // Part 2: for machines.
  assert.equal(parts[1]!.headers.get('content-type'), 'message/delivery-status');
  const [perMessage, bob, carol, ...rest] = dsnGroups(parts[1]!.body);
  assert.equal(rest.length, 0);
  assert.deepEqual(Object.fromEntries(perMessage!), {
    'reporting-mta': 'dns; mx.example.test',
    'x-mxguard-queue-id': '4QzR7x1Kp9',
    'x-mxguard-sender': 'rfc822; alice@sender.test',
    'arrival-date': rfc5322Date(new Date('2025-03-01T10:00:00Z')),
  });
  assert.deepEqual(Object.fromEntries(bob!), {
    'final-recipient': 'rfc822; bob@rcpt.test',
    'original-recipient': 'rfc822;Bob@rcpt.test',
    action: 'failed',
    status: '5.1.1',
    'remote-mta': 'dns; mx1.rcpt.test',
    'diagnostic-code': 'smtp; 550 5.1.1 <bob@rcpt.test>: Recipient address rejected: User unknown in local recipient table',
  });
  assert.deepEqual(Object.fromEntries(carol!), {
    'final-recipient': 'rfc822; carol@rcpt.test',
    action: 'failed',
    status: '5.4.6',
    'diagnostic-code': 'X-mxguard; mail forwarding loop for carol@rcpt.test',
  });

  // Part 3: the whole original, since it is under the limit.
  assert.equal(parts[2]!.headers.get('content-type'), 'message/rfc822');
  assert.equal(parts[2]!.headers.get('content-transfer-encoding'), '7bit');
  const returned = msg.toString('latin1').split(`\r\n--${boundary}`)[3]!;
  assert.ok(returned.endsWith(`\r\n\r\n${ORIGINAL.toString('latin1')}`));
});

test('a long diagnostic is folded at white space, never past 78 columns', () => {
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const msg = buildBounceMessage(input({ recipients: [{ address: 'x@rcpt.test', dsn: '5.7.1', diagnostic: `554 5.7.1 ${words}` }] }));
  const status = parse(msg).parts[1]!.body;
  const lines = status.split('\r\n');
  const start = lines.findIndex((l) => l.startsWith('Diagnostic-Code:'));
  assert.ok(lines[start + 1]!.startsWith('\t'), 'continuation lines start with white space');
  for (const l of lines) assert.ok(l.length <= 78, l);
  assert.equal(dsnGroups(status)[1]!.get('diagnostic-code'), `smtp; 554 5.7.1 ${words}`);
});

test('the original is cut at bounce_size_limit, on a line boundary', () => {
  const headerBytes = Buffer.byteLength(ORIGINAL_HEADERS.join('\r\n') + '\r\n\r\n');
  const lineBytes = BODY[0]!.length + 2;
  for (const limit of [headerBytes + 5 * lineBytes, headerBytes + 5 * lineBytes + lineBytes - 1]) {
    const msg = buildBounceMessage(input({ sizeLimit: limit }));
    assertWireSafe(msg, true);
    const { boundary, parts } = parse(msg);
    assert.equal(parts[2]!.headers.get('content-type'), 'message/rfc822');
    const returned = msg.toString('latin1').split(`\r\n--${boundary}`)[3]!.split('\r\n\r\n').slice(1).join('\r\n\r\n');
    assert.equal(Buffer.byteLength(returned, 'latin1'), headerBytes + 5 * lineBytes, `limit ${limit}`);
    assert.ok(returned.endsWith(`${BODY[4]}\r\n`));
    assert.match(parts[0]!.body, /start of your message/);
  }
  // Exactly the message's size returns all of it; 0 means no limit (as in Postfix).
  for (const limit of [ORIGINAL.length, 0]) {
    const msg = buildBounceMessage(input({ sizeLimit: limit }));
    assert.ok(msg.toString('latin1').includes(ORIGINAL.toString('latin1')), `limit ${limit}`);
  }
  // One octet less drops the last line.
  const msg = buildBounceMessage(input({ sizeLimit: ORIGINAL.length - 1 }));
  assert.equal(msg.includes(BODY[19]!), false);
  assert.equal(msg.includes(BODY[18]!), true);
});

test('a delay notice says so and returns only the headers', () => {
  const until = new Date('2025-03-06T10:00:00Z');
  const msg = buildBounceMessage(input({
    kind: 'delay', willRetryUntil: until,
    recipients: [{ address: 'bob@rcpt.test', dsn: '4.4.1', diagnostic: 'connect to mx1.rcpt.test[192.0.2.1]:25: Connection timed out' }],
  }));
  assertWireSafe(msg, true);
  const { top, parts, boundary } = parse(msg);
  assert.equal(top.headers.get('subject'), 'Delayed Mail (still being retried)');
  assert.match(parts[0]!.body, /warning/i);
  const [, bob] = dsnGroups(parts[1]!.body);
  assert.equal(bob!.get('action'), 'delayed');
  assert.equal(bob!.get('status'), '4.4.1');
  assert.equal(bob!.get('will-retry-until'), rfc5322Date(until));
  assert.equal(parts[2]!.headers.get('content-type'), 'text/rfc822-headers');
  const returned = msg.toString('latin1').split(`\r\n--${boundary}`)[3]!.split('\r\n\r\n')[1];
  assert.equal(returned, ORIGINAL_HEADERS.join('\r\n') + '\r\n');
  assert.equal(msg.includes('body line'), false);
});

test('RET=HDRS returns the headers of a failed message only', () => {
  const msg = buildBounceMessage(input({ ret: 'hdrs' }));
  const { parts } = parse(msg);
  assert.equal(parts[2]!.headers.get('content-type'), 'text/rfc822-headers');
  assert.equal(msg.includes('body line'), false);
  assert.match(parts[0]!.body, /headers of your message/);
});

test('an 8-bit original is declared 8bit; bare LF and overlong lines are repaired', () => {
  const original = Buffer.concat([
    Buffer.from('Subject: caf\u00e9\nFrom: a@sender.test\n\n', 'utf8'),
    Buffer.from(`${'y'.repeat(2500)}\nlast\rline\n`),
  ]);
  const msg = buildBounceMessage(input({ original }));
  assertWireSafe(msg, false);
  const { top, parts } = parse(msg);
  assert.equal(top.headers.get('content-transfer-encoding'), '8bit');
  assert.equal(parts[2]!.headers.get('content-transfer-encoding'), '8bit');
  assert.ok(msg.includes(Buffer.from('Subject: caf\u00e9\r\nFrom: a@sender.test\r\n\r\n', 'utf8')));
  assert.ok(msg.includes(`${'y'.repeat(998)}\r\n${'y'.repeat(998)}\r\n${'y'.repeat(504)}\r\nlast\r\nline\r\n`));
  // Parts 1 and 2 stay 7-bit whatever the original holds.
  const beforePart3 = msg.subarray(0, msg.indexOf('Content-Description: Returned message'));
  assert.equal(beforePart3.some((c) => c > 0x7f), false);
});

test('untrusted text stays 7-bit and cannot add header lines', () => {
  const msg = buildBounceMessage(input({
    recipients: [{
      address: 'j\u00fcrgen@rcpt.test', dsn: 'bogus', remoteMta: 'mx\r\nX-Evil: 1',
      diagnostic: '550 5.1.1 unknown \u00fcser\r\nX-Injected: yes',
    }],
  }));
  assertWireSafe(msg, true);
  const { parts } = parse(msg);
  const [, r] = dsnGroups(parts[1]!.body);
  assert.equal(r!.get('final-recipient'), 'utf-8; j\\x{FC}rgen@rcpt.test');
  assert.equal(r!.get('status'), '5.0.0');  // a malformed status becomes the generic one
  assert.equal(r!.has('x-injected'), false);
  assert.equal(r!.has('x-evil'), false);
  assert.throws(() => buildBounceMessage(input({ originalSender: 'a@b.test\r\nBcc: victim@x.test' })), /control/);
});

test('no notice to the null sender, and none without recipients', () => {
  assert.throws(() => buildBounceMessage(input({ originalSender: '' })), /null sender/);
  assert.throws(() => buildBounceMessage(input({ originalSender: '<>' })), /null sender/);
  assert.throws(() => buildBounceMessage(input({ recipients: [] })), /no recipients/);
});

test('isBounceable: never the null sender, MAILER-DAEMON or double-bounce', () => {
  const cases: [string, boolean][] = [
    ['alice@sender.test', true],
    ['postmaster@sender.test', true],
    ['<alice@sender.test>', true],
    ['', false],
    ['<>', false],
    [' <> ', false],
    ['MAILER-DAEMON@sender.test', false],
    ['mailer-daemon@mx.example.test', false],
    ['Mailer-Daemon', false],
    ['"MAILER-DAEMON"@sender.test', false],
    ['double-bounce@mx.example.test', false],
    ['double-bounce-not@mx.example.test', true],
  ];
  for (const [sender, expected] of cases) assert.equal(isBounceable(sender), expected, JSON.stringify(sender));
  assert.equal(isBounceable('bounces-dbl@mx.example.test', { doubleBounceSender: 'bounces-dbl' }), false);
  assert.equal(isBounceable('double-bounce@mx.example.test', { doubleBounceSender: 'bounces-dbl' }), true);
});

test('the boundary never occurs in the returned message', () => {
  // Ten notices with fresh boundaries; each is absent from the content it encloses.
  for (let i = 0; i < 10; i++) {
    const msg = buildBounceMessage(input());
    const { boundary } = parse(msg);
    assert.equal(ORIGINAL.includes(boundary), false);
    assert.equal(msg.toString('latin1').split(`--${boundary}`).length, 5);  // 3 openings + close + preamble
  }
});
