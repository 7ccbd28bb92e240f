/**
 * @module dns/transport
 * One query to one server: UDP first, TCP when the answer is truncated (RFC 1035 §4.2,
 * RFC 7766 §5). A fresh socket per query gives a random source port, and a random 16-bit id is
 * drawn for each (RFC 5452 §9.2). An answer counts only when it comes from the server asked,
 * carries the query's id, is a response, and repeats the question (name, type, class IN);
 * anything else is ignored and the wait goes on (RFC 5452 §3), so a forged or stray packet can
 * neither answer nor end the query. A packet with the right id that cannot be decoded does end it,
 * as an error: only the server, or someone who could forge a valid answer anyway, can send one.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { connect, isIP } from 'node:net';
import * as packet from 'dns-packet';
import type { DnsServer } from './servers.js';

export type Attempt =
  /** A matching answer; `rcode` as dns-packet names it (NOERROR, NXDOMAIN, SERVFAIL, …). */
  | { readonly kind: 'response'; readonly message: packet.DecodedPacket; readonly rcode: string; readonly tcp: boolean }
  | { readonly kind: 'timeout' }
  /** Malformed answer, or the server could not be reached (ICMP port unreachable, TCP reset). */
  | { readonly kind: 'error'; readonly detail: string };

export interface QueryOptions {
  readonly timeoutMs: number;
  /** Announce EDNS0 (RFC 6891) with this UDP payload size; 0: plain RFC 1035 (512 bytes). */
  readonly ednsSize: number;
}

/** The rcode dns-packet decodes into the header (absent from its type declarations). */
function rcodeOf(m: packet.DecodedPacket): string {
  return (m as packet.DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
}

function encodeQuery(id: number, name: string, type: string, ednsSize: number): Buffer {
  return packet.encode({
    type: 'query', id, flags: packet.RECURSION_DESIRED,
    questions: [{ name: name === '' ? '.' : name, type: type as packet.RecordType, class: 'IN' }],
    additionals: ednsSize > 0
      ? [{ type: 'OPT', name: '.', udpPayloadSize: ednsSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  });
}

/** Whether `m` answers the question asked (RFC 5452 §9.1), compared case-insensitively. */
function answers(m: packet.DecodedPacket, id: number, name: string, type: string): boolean {
  if (m.id !== id || m.type !== 'response') return false;
  const q = m.questions;
  if (!q || q.length !== 1) return false;
  const qn = q[0]!.name.toLowerCase().replace(/\.$/, '');
  return qn === name && q[0]!.type === type && (q[0]!.class ?? 'IN') === 'IN';
}

/** Decodes a packet that carries our id: the decoded message if it answers us, 'ignore' if it
 *  answers something else, or an error if it cannot be decoded. */
function check(buf: Buffer, id: number, name: string, type: string): packet.DecodedPacket | 'ignore' | { detail: string } {
  if (buf.length < 2 || buf.readUInt16BE(0) !== id) return 'ignore';
  let m: packet.DecodedPacket;
  try { m = packet.decode(buf); } catch (e) {
    return { detail: `malformed answer (${(e as Error).message})` };
  }
  return answers(m, id, name, type) ? m : 'ignore';
}

/** queryUdp - one UDP exchange; a truncated answer is passed on as is (the caller goes to TCP). */
function queryUdp(server: DnsServer, name: string, type: string, opts: QueryOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const id = randomInt(0, 0x10000);
    const sock = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* already closed */ }
      resolve(a);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeoutMs);
    // A connected socket receives only from the server's address and port, and reports an ICMP
    // port unreachable as ECONNREFUSED instead of letting the query time out.
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', detail: `${server.address}:${server.port} unreachable (${e.code ?? e.message})` }));
    sock.on('message', (buf: Buffer) => {
      const r = check(buf, id, name, type);
      if (r === 'ignore') return;
      if ('detail' in r) { finish({ kind: 'error', detail: r.detail }); return; }
      finish({ kind: 'response', message: r, rcode: rcodeOf(r), tcp: false });
    });
    sock.connect(server.port, server.address, () => {
      if (done) return;
      sock.send(encodeQuery(id, name, type, opts.ednsSize), (err) => {
        if (err) finish({ kind: 'error', detail: `${server.address}:${server.port} unreachable (${(err as NodeJS.ErrnoException).code ?? err.message})` });
      });
    });
  });
}

/** queryTcp - one TCP exchange (RFC 1035 §4.2.2: each message behind a two-byte length). */
function queryTcp(server: DnsServer, name: string, type: string, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const id = randomInt(0, 0x10000);
    const sock = connect({ host: server.address, port: server.port });
    let done = false;
    let buf = Buffer.alloc(0);
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', detail: `${server.address}:${server.port} unreachable over TCP (${e.code ?? e.message})` }));
    sock.on('close', () => finish({ kind: 'error', detail: `${server.address}:${server.port} closed the TCP connection without an answer` }));
    sock.on('connect', () => {
      const q = encodeQuery(id, name, type, 0);
      const hdr = Buffer.alloc(2);
      hdr.writeUInt16BE(q.length);
      sock.write(Buffer.concat([hdr, q]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) return;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const r = check(msg, id, name, type);
        if (r === 'ignore') continue;
        if ('detail' in r) { finish({ kind: 'error', detail: r.detail }); return; }
        finish({ kind: 'response', message: r, rcode: rcodeOf(r), tcp: true });
        return;
      }
    });
  });
}

/**
 * queryServer - asks one server one question within `timeoutMs`: over UDP, then over TCP in the
 * time left if the UDP answer has the TC bit (RFC 7766 §5; a truncated answer is never used).
 */
export async function queryServer(server: DnsServer, name: string, type: string, opts: QueryOptions): Promise<Attempt> {
  const start = performance.now();
  const udp = await queryUdp(server, name, type, opts);
  if (udp.kind !== 'response' || !udp.message.flag_tc) return udp;
  const left = opts.timeoutMs - (performance.now() - start);
  if (left <= 0) return { kind: 'timeout' };
  return queryTcp(server, name, type, left);
}
