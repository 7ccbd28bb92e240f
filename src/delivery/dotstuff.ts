/**
 * @module delivery/dotstuff
 * Message text as it goes on the wire after DATA (RFC 5321 §4.5.2): a line that starts with
 * "." gets one more "." in front, and the text ends with CRLF "." CRLF.
 *
 * Lines are also made to end in CRLF: a bare LF becomes CRLF (RFC 5321 §2.3.8 allows no other
 * line end). Postfix's SMTP client does the same, since it sends record by record; a server
 * that took bare LF as a line end could otherwise be made to see a different message than
 * the one sent (SMTP smuggling). A bare CR is passed on unchanged: mxguard's own server never
 * accepts one, so it only reaches here from a message injected by other means.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF_BUF = Buffer.from('\r\n');
const DOT_BUF = Buffer.from('.');
const CR_BUF = Buffer.from('\r');
const END_BUF = Buffer.from('.\r\n');

/** stuffDots - the wire form of a message read from `src`, one output buffer per input chunk. */
export async function* stuffDots(src: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): AsyncGenerator<Buffer> {
  let lineStart = true;
  let prevCR = false;
  let any = false;
  for await (const raw of src) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (!chunk.length) continue;
    any = true;
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (lineStart && c === DOT) {
        parts.push(chunk.subarray(from, i), DOT_BUF);
        from = i;
      }
      if (c === LF && !prevCR) {
        parts.push(chunk.subarray(from, i), CR_BUF);
        from = i;
      }
      lineStart = c === LF;
      prevCR = c === CR;
    }
    parts.push(chunk.subarray(from));
    yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
  // The terminator needs the text to end with a line end; complete a last partial line.
  if (prevCR) yield Buffer.from('\n');
  else if (any && !lineStart) yield CRLF_BUF;
  yield END_BUF;
}
