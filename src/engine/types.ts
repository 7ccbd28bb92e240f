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
  /**
   * How `name` was found (smtpd name_status): ok, or why it is 'unknown' - a temporary DNS
   * failure or a permanent one (no PTR, or the PTR name does not resolve back to the address).
   * Absent means ok when the name is known and permanent when it is 'unknown'.
   */
  readonly nameStatus?: 'ok' | 'temporary' | 'permanent';
  /** The same for `reverseName` (smtpd reverse_name_status). */
  readonly reverseNameStatus?: 'ok' | 'temporary' | 'permanent';
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
  /**
   * A DEFER_IF_PERMIT raised at an earlier stage that was evaluated at its own command
   * (smtpd_delay_reject = no): carried to RCPT and ETRN as smtpd_check.c carries
   * defer_if_permit_client/_helo/_sender. The previous Decision's `deferIfPermit`.
   */
  readonly deferIfPermit?: Reply;
  /** An earlier DISCARD in this transaction: every restriction is skipped (smtpd state->discard). */
  readonly discarded?: boolean;
  /** The SPF result for MAIL FROM at this client, when mail authentication ran (mailauth/). */
  readonly spf?: { readonly result: string; readonly domain: string };
}

export type Outcome =
  | { readonly kind: 'dunno' | 'permit'; readonly note: string }
  /** `final`: the evaluator already applied warn_if_reject, defer_if_reject and soft_bounce. */
  | { readonly kind: 'reject'; readonly reply: Reply; readonly note: string; readonly final?: boolean }
  | { readonly kind: 'discard'; readonly note: string }
  | { readonly kind: 'error'; readonly reply: Reply; readonly note: string }
  /** A reject turned into a logged warning by warn_if_reject; the list goes on (trace only). */
  | { readonly kind: 'reject_warning'; readonly reply: Reply; readonly note: string }
  /** Remember a deferral: sent if the stage would otherwise permit, or instead of a later 5xx. */
  | { readonly kind: 'defer_if_permit' | 'defer_if_reject'; readonly reply: Reply; readonly note: string };

/**
 * Something the SMTP server logs in Postfix's log_whatsup() form
 * (`NOQUEUE: <action>: RCPT from name[addr]: <text>; from=<…> to=<…> proto=… helo=<…>`), or,
 * for `warning`, a plain `warning: <text>` line.
 */
export interface EngineEvent {
  readonly action: 'reject_warning' | 'warn' | 'info' | 'hold' | 'filter' | 'redirect' | 'bcc' | 'discard' | 'permit' | 'warning';
  readonly text: string;
}

/** What access-map actions ask of the transaction (cleanup(8) flags in Postfix). */
export interface TransactionActions {
  /** HOLD: keep the message in the hold queue. */
  hold?: boolean;
  /** DISCARD: accept and drop the message. */
  discard?: boolean;
  /** FILTER transport:destination (the last one wins). */
  filter?: string;
  /** REDIRECT user@domain: deliver to this address only (the last one wins). */
  redirect?: string;
  /** BCC user@domain: one more recipient (Postfix 3.0: the last one wins). */
  bcc?: string;
  /** PREPEND header: value, in order. */
  prepend: string[];
}

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
  /** Log lines the decision asks for, in order (warn_if_reject, WARN, INFO, HOLD, …). */
  readonly events: readonly EngineEvent[];
  /** Side effects on the transaction, to be applied only if the command is accepted. */
  readonly actions: TransactionActions;
  /** A DEFER_IF_PERMIT still pending after this stage (to carry into `TransactionContext.deferIfPermit`). */
  readonly deferIfPermit?: Reply;
}
