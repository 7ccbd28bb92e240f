/**
 * @module smtp/received
 * The trace header added to every accepted message (RFC 5321 §4.4), in Postfix's layout so
 * that tools that parse Postfix's Received: lines read mxguard's too:
 *   Received: from HELO (NAME [ADDR])
 *   	(using TLSv1.3 with cipher X (256/256 bits))
 *   	(Authenticated sender: USER)
 *   	by MYHOSTNAME (mxguard) with ESMTPS id QUEUEID
 *   	for <RCPT>; Fri, 27 Nov 2026 16:17:14 +0000
 */
import type { ClientInfo } from '../engine/types.js';
import { rfc5322Date } from '../queue/bounce.js';

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
  h += `; ${rfc5322Date(i.date ?? new Date())}\r\n`;
  return h;
}
