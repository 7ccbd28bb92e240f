/**
 * @module queue/bounce
 * Delivery status notifications: non-delivery ("bounce") and delay notices, sent with the null
 * sender (RFC 5321 §4.5.5) to the original envelope sender.
 *
 * Shape (RFC 6522 multipart/report; report-type=delivery-status, RFC 3464):
 *   1. text/plain for people: which recipients failed and what the remote side said;
 *   2. message/delivery-status: per-message fields, then one block per recipient;
 *   3. the original: for a failure the whole message as message/rfc822 when it fits in
 *      `bounce_size_limit` bytes, else its first lines up to the limit (Postfix does the same,
 *      bounce(8)); for a delay notice or RET=HDRS (RFC 3461 §4.3) its headers as
 *      text/rfc822-headers. A limit of 0 means no limit, as in Postfix.
 *
 * The notice is 7-bit, CRLF, lines ≤ 998 octets (RFC 5322 §2.1.1), except that part 3 carries
 * the original's 8-bit octets when it has any, declared `8bit` there and on the whole message
 * (RFC 2045 §6.4), so the sender must offer 8BITMIME. Original lines longer than 998 octets are
 * broken, since no 7bit/8bit part may carry them.
 * XXX: SMTPUTF8 originals should travel as message/global (RFC 6532 §3.7), which this does not do.
 */
import { randomBytes } from 'node:crypto';

export interface BounceRecipient {
  /** Final recipient address (envelope RCPT TO after rewriting). */
  readonly address: string;
  /** ORCPT (RFC 3461 §4.2) as received (`rfc822;a@b`), or the address as first received, when known. */
  readonly origAddress?: string;
  /** RFC 3463 status code, e.g. `5.1.1`. */
  readonly dsn: string;
  /** What went wrong: an SMTP reply (`550 5.1.1 <x@y>: …`) or mxguard's own explanation. */
  readonly diagnostic: string;
  /** Host name of the server that gave the reply, when it came from one. */
  readonly remoteMta?: string;
}

export interface BounceInput {
  /** `$myhostname`: named in the text, the From address, Reporting-MTA and Message-ID. */
  readonly reportingMta: string;
  readonly queueId: string;
  /** Envelope sender of the original; the notice goes there (check `isBounceable` first). */
  readonly originalSender: string;
  readonly arrivalDate: Date;
  readonly kind: 'failure' | 'delay';
  readonly recipients: readonly BounceRecipient[];
  /** The original message as spooled. */
  readonly original: Buffer;
  /** `bounce_size_limit`: most octets of the original to return; 0 means all. */
  readonly sizeLimit: number;
  /** DSN RET (RFC 3461 §4.3): `hdrs` returns only the headers even for a failure. */
  readonly ret?: 'full' | 'hdrs';
  /** For delay notices: when the queue gives up (arrival + maximal_queue_lifetime). */
  readonly willRetryUntil?: Date;
  readonly now?: Date;
}

const CRLF = '\r\n';
const MAX_LINE = 998;

// ---------------------------------------------------------------------------------------------
// Who gets bounces

/**
 * isBounceable - may a notice be sent to this envelope sender? Never to the null sender
 * (RFC 5321 §6.1, §4.5.5: that would start a loop), nor to MAILER-DAEMON or the double-bounce
 * address (postconf(5) double_bounce_sender) of any domain: mail from those is itself a notice.
 */
export function isBounceable(sender: string, opts: { doubleBounceSender?: string } = {}): boolean {
  let s = sender.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  if (s === '') return false;
  const at = s.lastIndexOf('@');
  const local = (at < 0 ? s : s.slice(0, at)).replace(/^"(.*)"$/, '$1').toLowerCase();
  const doubleBounce = (opts.doubleBounceSender ?? 'double-bounce').toLowerCase();
  return local !== 'mailer-daemon' && local !== doubleBounce;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** rfc5322Date - `Tue, 3 Jun 2025 14:05:09 +0200` in local time (RFC 5322 §3.3). */
export function rfc5322Date(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${DAYS[d.getDay()]}, ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} `
    + `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} `
    + `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/** Makes text from elsewhere (remote replies, host names) printable 7-bit, as bounce(8) masks it. */
function ascii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Words wrapped at `width` columns, continuation lines starting with `indent` (header folding,
 * RFC 5322 §2.2.3, or bounce text). A word that does not fit on a line of its own within the
 * 998-octet limit is cut; a merely long one gets a line of its own.
 */
function wrap(text: string, indent: string, width = 78): string[] {
  const lines: string[] = [];
  let cur: string | undefined;
  for (const word of text.split(' ')) {
    if (word === '') continue;
    if (cur !== undefined && cur.length + 1 + word.length <= width) { cur += ' ' + word; continue; }
    if (cur !== undefined) lines.push(cur);
    const lead = () => (lines.length === 0 ? '' : indent);
    let w = word;
    while (lead().length + w.length > MAX_LINE) {
      const n = MAX_LINE - lead().length;
      lines.push(lead() + w.slice(0, n));
      w = w.slice(n);
    }
    cur = lead() + w;
  }
  if (cur !== undefined) lines.push(cur);
  return lines.length ? lines : [''];
}

/** A header or DSN field, folded at white space (RFC 5322 §2.2.3). */
function field(name: string, value: string): string[] {
  return wrap(`${name}: ${value}`, '\t');
}

/**
 * An address for a DSN address field: `rfc822; a@b` for ASCII, else `utf-8; …` with each
 * non-ASCII character written `\x{HEX}` (RFC 6533 §3, utf-8-addr-xtext), so the part stays 7-bit.
 */
function dsnAddress(addr: string): string {
  return /^[\x21-\x7e]+$/.test(addr) ? `rfc822; ${addr}` : `utf-8; ${escapeAddress(addr)}`;
}

/** An address in printable ASCII: other characters, and `\`, `+` and `=`, as `\x{HEX}`. */
function escapeAddress(addr: string): string {
  let out = '';
  for (const ch of addr) {
    const cp = ch.codePointAt(0)!;
    out += cp > 0x20 && cp < 0x7f && ch !== '\\' && ch !== '+' && ch !== '=' ? ch : `\\x{${cp.toString(16).toUpperCase()}}`;
  }
  return out;
}

/** RFC 3464 §2.3.4 status: class 2, 4 or 5. A malformed one becomes the generic code of its kind. */
function dsnStatus(dsn: string, kind: BounceInput['kind']): string {
  return /^[245]\.\d{1,3}\.\d{1,3}$/.test(dsn) ? dsn : kind === 'failure' ? '5.0.0' : '4.0.0';
}

/** Diagnostic-Code type: `smtp` for an SMTP reply (RFC 3464 §2.3.6), else our own `X-mxguard`. */
function diagnosticCode(diagnostic: string): string {
  const text = ascii(diagnostic).trim();
  return /^[245]\d\d(?:[ -]|$)/.test(text) ? `smtp; ${text}` : `X-mxguard; ${text}`;
}

/** Header block of the original: everything before the first empty line (RFC 5322 §2.1). */
function headerEnd(lines: readonly Buffer[]): number {
  const i = lines.findIndex((l) => l.length === 0);
  return i < 0 ? lines.length : i;
}

/**
 * Lines of the original with their line ends removed (CRLF, or a lone LF or CR), each at most
 * 998 octets: a longer one is cut into pieces.
 */
function originalLines(original: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  const push = (end: number) => {
    for (let s = start; ; s += MAX_LINE) {
      out.push(original.subarray(s, Math.min(end, s + MAX_LINE)));
      if (end - s <= MAX_LINE) break;
    }
  };
  for (let i = 0; i < original.length; i++) {
    const c = original[i];
    if (c === 0x0a || c === 0x0d) {
      push(i);
      if (c === 0x0d && original[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < original.length) push(original.length);
  return out;
}

/**
 * Lines to return, whole lines only, their octets with CRLF counting against `limit`
 * (0: no limit), and whether anything was left out.
 */
function takeLines(lines: readonly Buffer[], limit: number): { lines: Buffer[]; truncated: boolean } {
  if (limit === 0) return { lines: [...lines], truncated: false };
  const taken: Buffer[] = [];
  let size = 0;
  for (const l of lines) {
    if (size + l.length + 2 > limit) return { lines: taken, truncated: true };
    taken.push(l);
    size += l.length + 2;
  }
  return { lines: taken, truncated: false };
}

// ---------------------------------------------------------------------------------------------
// The notice

/** What part 3 holds, so the text can say so. */
type Returned = 'message' | 'start' | 'headers';

function humanText(input: BounceInput, returned: Returned): string[] {
  const host = ascii(input.reportingMta);
  const out = [`This is the mail system at host ${host}.`, ''];
  if (input.kind === 'failure') {
    out.push(
      ...wrap('I\'m sorry to have to tell you that your message could not be delivered to one or '
        + 'more of its recipients. The mail system gave up on the addresses listed below; the '
        + 'reason for each follows its address. '
        + (returned === 'message' ? 'Your message is returned after this report.'
          : returned === 'start' ? 'The start of your message is returned after this report; the rest was too long to return.'
            : 'The headers of your message are returned after this report.'), ''),
      '',
      ...wrap('If you want help with this, write to the postmaster of this site and include this '
        + 'report. You may remove your own text from the returned message first.', ''),
    );
  } else {
    out.push(
      '#########################################################################',
      '# This is only a warning. You do not need to send your message again.   #',
      '#########################################################################',
      '',
      ...wrap('Your message has not yet reached the recipients listed below. The mail system will '
        + 'keep trying to deliver it'
        + (input.willRetryUntil ? ` until ${rfc5322Date(input.willRetryUntil)}` : '')
        + ', and will write to you again if it finally has to give up.', ''),
    );
  }
  out.push('', '                   The mail system');
  for (const r of input.recipients) {
    const where = r.remoteMta ? `host ${ascii(r.remoteMta)} said: ` : '';
    out.push('', ...wrap(`<${/^[\x21-\x7e]+$/.test(r.address) ? r.address : escapeAddress(r.address)}>: ${where}${ascii(r.diagnostic).trim()}`, '    '));
  }
  return out;
}

function deliveryStatus(input: BounceInput): string[] {
  // Per-message fields (RFC 3464 §2.2), then a blank line before each recipient's (§2.3).
  const out = [
    ...field('Reporting-MTA', `dns; ${ascii(input.reportingMta)}`),
    ...field('X-Mxguard-Queue-ID', ascii(input.queueId)),
    ...field('X-Mxguard-Sender', dsnAddress(input.originalSender)),
    ...field('Arrival-Date', rfc5322Date(input.arrivalDate)),
  ];
  for (const r of input.recipients) {
    out.push('', ...field('Final-Recipient', dsnAddress(r.address)));
    if (r.origAddress) {
      // An ORCPT value already carries its address type and xtext (RFC 3461 §4.2): keep it.
      const typed = /^[A-Za-z0-9-]+;[\x21-\x7e]+$/.test(r.origAddress.replace(/; /, ';'));
      out.push(...field('Original-Recipient', typed ? r.origAddress : dsnAddress(r.origAddress)));
    }
    out.push(
      ...field('Action', input.kind === 'failure' ? 'failed' : 'delayed'),
      ...field('Status', dsnStatus(r.dsn, input.kind)),
    );
    if (r.remoteMta) out.push(...field('Remote-MTA', `dns; ${ascii(r.remoteMta)}`));
    out.push(...field('Diagnostic-Code', diagnosticCode(r.diagnostic)));
    if (input.kind === 'delay' && input.willRetryUntil) out.push(...field('Will-Retry-Until', rfc5322Date(input.willRetryUntil)));
  }
  return out;
}

function has8bit(lines: readonly Buffer[]): boolean {
  return lines.some((l) => l.some((c) => c > 0x7f));
}

/** A boundary that cannot occur in the content it encloses (RFC 2046 §5.1.1). */
function boundary(prefix: string, content: readonly Buffer[]): string {
  for (;;) {
    const b = `${prefix}/${randomBytes(9).toString('hex')}=_`;
    if (!content.some((l) => l.includes(b))) return b;
  }
}

function checkHeaderValue(name: string, value: string): void {
  // Envelope data goes into headers: a line break there would let it write headers of its own.
  if (/[\x00-\x1f\x7f]/.test(value)) throw new RangeError(`bounce: ${name} contains a control character`);
}

/** buildBounceMessage - the complete notice (headers and body), CRLF, ready for the queue. */
export function buildBounceMessage(input: BounceInput): Buffer {
  // Whether other senders (MAILER-DAEMON, double-bounce) get notices is isBounceable()'s call.
  if (input.originalSender.replace(/^<(.*)>$/, '$1').trim() === '') {
    throw new RangeError('bounce: no notice may go to the null sender (RFC 5321 §6.1)');
  }
  if (input.recipients.length === 0) throw new RangeError('bounce: no recipients to report');
  if (!Number.isInteger(input.sizeLimit) || input.sizeLimit < 0) throw new RangeError(`bounce: bad size limit ${input.sizeLimit}`);
  checkHeaderValue('sender', input.originalSender);
  checkHeaderValue('reporting MTA', input.reportingMta);
  const now = input.now ?? new Date();
  const host = ascii(input.reportingMta);
  // Queue ids go into the boundary (≤ 70 characters, RFC 2046 §5.1.1) and the Message-ID.
  const qid = input.queueId.replace(/[^A-Za-z0-9]/g, '-').slice(0, 24);

  // Part 3: which of the original's lines go back, and how they are labelled.
  const all = originalLines(input.original);
  const headersOnly = input.kind === 'delay' || input.ret === 'hdrs';
  const source = headersOnly ? all.slice(0, headerEnd(all)) : all;
  const { lines: returned, truncated } = takeLines(source, input.sizeLimit);
  const eightBit = has8bit(returned);
  const cte = eightBit ? '8bit' : '7bit';
  const bnd = boundary(`${qid}.${Math.floor(now.getTime() / 1000)}`, returned);

  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 14);
  const head = [
    ...field('Date', rfc5322Date(now)),
    ...field('From', `MAILER-DAEMON@${host} (Mail Delivery System)`),
    // Not folded: an address may hold a quoted string whose spaces matter.
    `To: ${input.originalSender}`,
    ...field('Subject', input.kind === 'failure' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'),
    ...field('Message-ID', `<${stamp}.${randomBytes(6).toString('hex')}.${qid}@${host}>`),
    // RFC 3834 §5: an automatic response; well-behaved responders will not answer it.
    ...field('Auto-Submitted', 'auto-replied'),
    'MIME-Version: 1.0',
    ...field('Content-Type', `multipart/report; report-type=delivery-status; boundary="${bnd}"`),
    ...field('Content-Transfer-Encoding', cte),
    '',
    'This is a delivery status notification in MIME format (RFC 3464).',
    '',
    `--${bnd}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...humanText(input, headersOnly ? 'headers' : truncated ? 'start' : 'message'),
    '',
    `--${bnd}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    ...deliveryStatus(input),
    '',
    `--${bnd}`,
    `Content-Description: ${headersOnly ? 'Message headers' : 'Returned message'}`,
    `Content-Type: ${headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}`,
    `Content-Transfer-Encoding: ${cte}`,
    '',
  ];
  const tail = ['', `--${bnd}--`, ''];
  const chunks: Buffer[] = [Buffer.from(head.join(CRLF) + CRLF, 'utf8')];
  for (const l of returned) chunks.push(l, Buffer.from(CRLF));
  chunks.push(Buffer.from(tail.join(CRLF), 'latin1'));
  return Buffer.concat(chunks);
}
