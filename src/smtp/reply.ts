/**
 * @module smtp/reply
 * An SMTP reply as a value without I/O (RFC 5321 §4.2, RFC 3463 enhanced status codes).
 * Only `smtp/` and `policyd/` render replies onto the wire.
 */

/** `subject.detail` of an RFC 3463 enhanced status code; the class digit follows the reply code. */
export type StatusDetail = `${number}.${number}`;

export interface Reply {
  readonly code: number;
  readonly status?: StatusDetail;
  readonly text: readonly string[];
}

export function reply(code: number, status: StatusDetail | undefined, ...text: string[]): Reply {
  if (!Number.isInteger(code) || code < 200 || code > 599) throw new RangeError(`reply code out of range: ${code}`);
  return { code, status, text: text.length ? text : [''] };
}

/** The full enhanced status code, e.g. `5.7.1`, or undefined when the reply carries none. */
export function enhancedCode(r: Reply): string | undefined {
  return r.status ? `${Math.floor(r.code / 100)}.${r.status}` : undefined;
}

/** Turns a reply into a 4xx deferral, as Postfix's soft_bounce and DEFER actions do (smtpd_dsn_fix.c). */
export function softened(r: Reply): Reply {
  if (r.code < 500) return r;
  return { ...r, code: r.code - 100 };
}

/** Renders a reply as CRLF-terminated wire lines (RFC 5321 §4.2.1 multi-line form). */
export function renderReply(r: Reply, enhanced = true): string {
  const ec = enhanced ? enhancedCode(r) : undefined;
  const lines = r.text.length ? r.text : [''];
  let out = '';
  lines.forEach((line, i) => {
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${r.code}${sep}${ec ? ec + ' ' : ''}${line}`.trimEnd() + '\r\n';
  });
  return out;
}

/** One-line form for logs: `554 5.7.1 <x@y>: Relay access denied`. */
export function replyLine(r: Reply): string {
  const ec = enhancedCode(r);
  return `${r.code}${ec ? ' ' + ec : ''} ${r.text.join(' ')}`;
}

/** An error that knows the reply it should produce; `smtp/session` is the one place that renders it. */
export class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(replyLine(reply));
  }
}
