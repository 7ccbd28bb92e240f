/**
 * @module smtp/received
 * The trace header added to every accepted message (RFC 5321 §4.4), in Postfix's layout so
 * that tools that parse Postfix's Received: lines read mxguard's too:
 *   Received: from HELO (NAME [ADDR])
 *   	(using TLSv1.3 with cipher X (256/256 bits))
 *   	(Authenticated sender: USER)
 *   	by MYHOSTNAME (mxguard) with ESMTPS id QUEUEID
 *   	for <RCPT>; Fri, 27 Nov 2026 16:17:14 +0000 (UTC)
 */
import type { ClientInfo } from '../engine/types.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in local time with numeric zone. */
export function rfc5322Date(d = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const zone = `${sign}${p2(Math.floor(Math.abs(off) / 60))}${p2(Math.abs(off) % 60)}`;
  return `${DAYS[d.getDay()]}, ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${zone}`;
}

export interface ReceivedInput {
  readonly helo?: string;
  readonly client: ClientInfo;
  readonly myhostname: string;
  readonly mailName: string;
  readonly protocol: string;
  readonly queueId: string;
  readonly recipient?: string;
  readonly tls?: { protocol: string; cipher: string; bits: number };
  readonly authSender?: string;
  readonly date?: Date;
}

/** Removes what could break the header: line breaks and control characters in client-supplied text. */
const clean = (s: string) => s.replace(/[\x00-\x1f\x7f()]/g, '?');

export function receivedHeader(i: ReceivedInput): string {
  const addr = i.client.address.includes(':') ? `IPv6:${i.client.address}` : i.client.address;
  let h = `Received: from ${clean(i.helo ?? i.client.name)} (${i.client.name} [${addr}])\r\n`;
  if (i.tls) h += `\t(using ${i.tls.protocol} with cipher ${i.tls.cipher} (${i.tls.bits}/${i.tls.bits} bits))\r\n`;
  if (i.authSender) h += `\t(Authenticated sender: ${clean(i.authSender)})\r\n`;
  h += `\tby ${i.myhostname} (${i.mailName}) with ${i.protocol} id ${i.queueId}`;
  if (i.recipient) h += `\r\n\tfor <${clean(i.recipient)}>`;
  h += `; ${rfc5322Date(i.date)}\r\n`;
  return h;
}
