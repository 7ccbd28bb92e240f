/**
 * @module delivery/types
 * The queue manager's contract with delivery agents: one request per (transport, nexthop) group
 * of recipients of one message; one result per recipient.
 */
import type { Readable } from 'node:stream';
import type { Config } from '../config/config.js';

export interface DeliveryRecipient {
  readonly address: string;          // envelope recipient, without <>
  readonly origAddress?: string;     // before rewriting, for orig_to= in logs
}

export interface DeliveryRequest {
  readonly queueId: string;
  readonly sender: string;           // '' is the null sender
  readonly recipients: readonly DeliveryRecipient[];
  readonly transport: string;        // master.cf-style transport name, e.g. 'smtp', 'lmtp', 'virtual', 'discard'
  readonly nexthop: string;          // e.g. '[127.0.0.1]:2526', 'inet:127.0.0.1:24', 'unix:/run/dovecot/lmtp', 'example.com'
  readonly arrivalTime: Date;
  readonly size: number;             // bytes of the message
  /** RFC 6152 / RFC 6531: what the client declared at MAIL, to be passed on to the next hop. */
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  /** A fresh stream of the message bytes (headers and body, CRLF line ends, not dot-stuffed). */
  openMessage(): Readable;
  readonly config: Config;
}

export interface RecipientResult {
  readonly address: string;
  readonly status: 'sent' | 'deferred' | 'bounced';
  readonly dsn: string;              // RFC 3463 code, e.g. '2.0.0', '4.4.1', '5.1.1'
  /** relay= field of the log line: 'virtual', 'none', 'host[addr]:port', 'discard'. */
  readonly relay: string;
  /** Parenthesised explanation of the log line, e.g. '250 2.0.0 Ok: queued as X' or 'delivered to maildir'. */
  readonly text: string;
  /** Remote server's reply, if any, for the bounce's Diagnostic-Code (RFC 3464 §2.3.6). */
  readonly remoteReply?: string;
  /** Timing split for delays=a/b/c/d: connection setup and transmission, seconds. */
  readonly connSetup?: number;
  readonly transmission?: number;
}

export interface DeliveryAgent {
  deliver(req: DeliveryRequest, signal: AbortSignal): Promise<RecipientResult[]>;
  /** The agent does no I/O and answers at once (discard, error): no timeout or abort is armed. */
  readonly instant?: boolean;
}
