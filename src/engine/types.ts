/**
 * @module engine/types
 * The engine's contract with its faces: a frozen transaction context in, a decision with its
 * trace out. The engine never touches a socket (DESIGN.md).
 */
import type { Config } from '../config/config.js';
import type { Reply } from '../smtp/reply.js';

export type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'eod' | 'etrn';

export interface ClientInfo {
  readonly address: string;          // IP address, IPv6 without brackets
  readonly port: number;
  readonly name: string;             // verified name or 'unknown' (postconf(5) smtpd_peername_lookup)
  readonly reverseName: string;      // PTR name or 'unknown'
}

export interface TransactionContext {
  readonly stage: Stage;
  readonly config: Config;
  readonly service: string;          // master.cf service name
  readonly client: ClientInfo;
  readonly helo?: string;
  readonly protocol: 'SMTP' | 'ESMTP';
  readonly tls: boolean;
  readonly sasl?: { readonly method: string; readonly username: string };
  /** MAIL FROM address as given (without <>), '' for the null sender, undefined before MAIL. */
  readonly sender?: string;
  /** The RCPT TO address being decided (rcpt stage), without <>. */
  readonly recipient?: string;
  /** Recipients accepted so far in this transaction (RCPT: before the one being decided). */
  readonly recipientCount: number;
  /**
   * The client sent commands ahead of time where that is not allowed (smtpd(8) sets
   * SMTPD_FLAG_ILL_PIPELINING; reject_unauth_pipelining answers on it). Set by the session.
   */
  readonly illegalPipelining?: boolean;
  readonly queueId?: string;
  /** The ETRN argument (etrn stage). */
  readonly etrnDomain?: string;
}

export type Outcome =
  | { readonly kind: 'dunno' | 'permit'; readonly note: string }
  | { readonly kind: 'reject'; readonly reply: Reply; readonly note: string }
  | { readonly kind: 'discard'; readonly note: string }
  | { readonly kind: 'error'; readonly reply: Reply; readonly note: string };

export interface TraceStep {
  readonly stage: Stage;
  readonly list: string;             // e.g. 'smtpd_relay_restrictions'
  readonly restriction: string;      // Postfix spelling
  readonly args: readonly string[];
  readonly outcome: Outcome;
}

export interface Decision {
  /** accept: go on; reject: send `reply` (4xx or 5xx); discard: accept and drop the message. */
  readonly action: 'accept' | 'reject' | 'discard';
  readonly reply?: Reply;
  readonly trace: readonly TraceStep[];
  /** Why the decision was made without evaluating lists (e.g. "postmaster", smtpd_delay_reject). */
  readonly note?: string;
}
