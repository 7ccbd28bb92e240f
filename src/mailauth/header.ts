/**
 * @module mailauth/header
 * The Authentication-Results: header field (RFC 8601 §2.2):
 *
 *   Authentication-Results: mx.example.org;
 *   	spf=pass (…) smtp.mailfrom=a@example.com;
 *   	dkim=pass header.i=@example.com header.s=sel header.a=rsa-sha256 header.b=AbCdEf12;
 *   	dmarc=pass header.from=example.com
 *
 * authserv-id is $myhostname. Each resinfo (method=result, comment, properties) comes from
 * mailauth, which escapes comments and property values. With nothing evaluated the field
 * says `none` (RFC 8601 §2.2 "no-result"). Lines are folded at whitespace to stay under 78
 * characters where possible (RFC 5322 §2.1.1); a single long token is never split.
 */

/** Folds `text` (one logical line, no CRLF) at spaces; continuation lines start with a tab. */
export function fold(text: string, width = 78): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) { lines.push(cur); cur = `\t${w}`; continue; }
    cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\r\n');
}

/** The result's text with CR, LF and other controls replaced, so a field can never be ended early. */
function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

/** authenticationResults - the complete header field, CRLF-terminated. */
export function authenticationResults(authservId: string, resinfos: readonly string[]): string {
  const parts = resinfos.map(clean).filter(Boolean);
  const lines = [`Authentication-Results: ${clean(authservId)};`];
  if (!parts.length) lines[0] += ' none';
  parts.forEach((p, i) => lines.push(fold(`\t${p}${i < parts.length - 1 ? ';' : ''}`)));
  return lines.join('\r\n') + '\r\n';
}
