/**
 * @module engine/restrictions/define
 * The shape of a restriction: its Postfix name, how many list tokens it takes as arguments,
 * what it may answer, and its evaluation. Each restriction is declared once, in the module of
 * its family, and registered by Postfix spelling in restrictions/index.ts (cf. Postfix's
 * generic_checks(), here a table instead of a chain of string comparisons).
 */
import type { Reply } from '../../smtp/reply.js';
import type { EngineEvent, Stage, TransactionActions, TransactionContext, Outcome } from '../types.js';
import type { EngineFacts } from '../facts.js';

/** State shared by the lists of one evaluation (smtpd_check.c SMTPD_STATE fields). */
export interface RunState {
  /** reject_unlisted_recipient already ran, so the implicit check at the end is skipped. */
  recipientMapChecked: boolean;
  /** reject_unlisted_sender already ran. */
  senderMapChecked: boolean;
  /** A DISCARD was decided: every later restriction, in every list, is skipped. */
  discard: boolean;
  /** Nesting depth of lists being evaluated (generic_checks() state->recursion). */
  recursion: number;
  /** warn_if_reject: the depth at which it was given, 0 when off (applies to the next restriction only). */
  warnIfReject: number;
  /** The first DEFER_IF_PERMIT reason, while active. */
  deferIfPermit?: Reply;
  /** The first DEFER_IF_REJECT reason of this stage, while active. */
  deferIfReject?: Reply;
  readonly events: EngineEvent[];
  readonly actions: TransactionActions;
}

/** Who a reply names, and how (smtpd_check.c reply_name, reply_class). */
export interface ReplySubject {
  readonly replyName: string;
  readonly replyClass: string;
}

/** What a restriction sees. */
export interface RestrictionEnv {
  readonly tx: TransactionContext;
  readonly stage: Stage;
  /** The list being evaluated (or the restriction class within it). */
  readonly list: string;
  /** Text of the reply class, e.g. `Recipient address` in `<x>: Recipient address rejected: …`. */
  readonly replyClass: string;
  /** What goes inside `<…>` in reject texts: client name[addr], HELO name, sender, recipient, DATA. */
  readonly replyName: string;
  readonly facts: EngineFacts;
  readonly run: RunState;
  /**
   * Evaluates restriction names from an access table's right-hand side in this list's context,
   * with the access check's reply subject (check_table_result() → generic_checks()).
   */
  nested(tokens: readonly string[], subject: ReplySubject, note: string): Promise<Outcome>;
}

export interface RestrictionDef {
  /** postconf(5) spelling, lower case; written nowhere else. */
  readonly name: string;
  /** Number of list tokens that follow as arguments (`check_client_access type:table` takes 1). */
  readonly args: number;
  /** May answer permit; audit/ flags such restrictions where a permit would open a relay. */
  readonly mayPermit: boolean;
  /** Ends its list whatever the input (permit, reject, defer): later entries are never reached. */
  readonly endsList: boolean;
  /** One line for `mxguard check` and the configuration reference. */
  readonly doc: string;
  /**
   * Set when the restriction is known but cannot work yet (e.g. it needs the DNS resolver):
   * the reason. It then answers DUNNO with that reason in the trace, and `mxguard config` and
   * start-up warn about every list that names it.
   */
  readonly unavailable?: string;
  /**
   * The restriction asks the DNS: at RCPT the evaluator starts all such lookups of the stage's
   * lists at once (their answers land in the resolver's cache and in-flight queries are shared),
   * then evaluates in order, so a cold cache costs about the slowest lookup, not their sum.
   */
  readonly usesDns?: boolean;
  /**
   * The DNS names this restriction will ask for, when it can say so without side effects; the
   * evaluator's prefetch then only warms the resolver (instead of a scratch evaluation), so that
   * list health counts each real lookup once.
   */
  prefetch?(env: RestrictionEnv, args: readonly string[]): readonly { readonly name: string; readonly type: 'A' | 'TXT' | 'MX' | 'AAAA' }[];
  evaluate(env: RestrictionEnv, args: readonly string[]): Outcome | Promise<Outcome>;
}

export function defineRestriction(def: Omit<RestrictionDef, 'args' | 'endsList'> & Partial<Pick<RestrictionDef, 'args' | 'endsList'>>): RestrictionDef {
  if (def.name !== def.name.toLowerCase()) throw new Error(`restriction name must be lower case: ${def.name}`);
  return { args: 0, endsList: false, ...def };
}
