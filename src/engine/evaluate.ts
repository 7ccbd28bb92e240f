/**
 * @module engine/evaluate
 * The one evaluator of restriction lists (smtpd_check.c generic_checks() and the stage
 * drivers smtpd_check_client/helo/mail/rcpt/etrn/data/eod()).
 *
 * - A list runs left to right until a restriction answers something other than DUNNO; the end
 *   of a list is a permit. Lists are independent: a permit ends only its own list, a reject
 *   (or a configuration error) ends the evaluation.
 * - A token containing `:` is a bare table and means the list's default access check
 *   (check_recipient_access in the RCPT lists, …); data and end-of-data lists have none.
 * - A name in $smtpd_restriction_classes runs the list of that name in the caller's context.
 * - An unknown name, a missing argument or a bad table is `451 4.3.5 Server configuration
 *   error` with a note naming the problem, never a silent skip.
 * - Every reject passes checkReject() once (warn_if_reject, defer_if_reject, printable, length, soft_bounce).
 * - Every evaluated restriction leaves a TraceStep.
 *
 * Stages (evaluateStage): with smtpd_delay_reject = yes (the default) the client, HELO and sender
 * lists are evaluated at each RCPT TO, before the relay and recipient lists, so the earlier
 * stages answer "accept" at once. RCPT TO then runs smtpd_relay_restrictions and
 * smtpd_recipient_restrictions (in that order with smtpd_relay_before_recipient_restrictions,
 * Postfix 3.6+) and finally the implicit smtpd_reject_unlisted_recipient check.
 *
 * The result algebra of smtpd_check.c is kept as RunState: warn_if_reject (the next restriction
 * only, nested lists included) turns a reject into a logged `reject_warning`; defer_if_permit
 * remembers the first deferral and sends it when the stage would otherwise accept (carried from
 * client to HELO to sender to RCPT); defer_if_reject turns a later 5xx of the same stage into
 * the remembered deferral; a list stops when both are pending; DISCARD skips every later
 * restriction of the transaction.
 */
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/types.js';
import { parseList } from '../config/values.js';
import { replyLine, softened, type Reply } from '../smtp/reply.js';
import { engineFacts, type EngineFacts } from './facts.js';
import { configError, printableReply } from './outcome.js';
import { isTablePattern } from './patterns.js';
import { restrictions, type ReplySubject, type RestrictionDef, type RestrictionEnv, type RunState } from './restrictions/index.js';
import { checkRecipientMaps } from './restrictions/recipient-maps.js';
import type { Decision, Outcome, Stage, TraceStep, TransactionContext } from './types.js';

/** What each list's reject texts say, and its default access check for bare `type:table` tokens. */
interface ListKind {
  readonly replyClass: string;
  readonly defaultAcl?: string;
  replyName(ctx: TransactionContext): string;
}

const RECIPIENT_LIST: ListKind = { replyClass: 'Recipient address', defaultAcl: 'check_recipient_access', replyName: (c) => c.recipient ?? '' };

// smtpd_check.c: reply class (smtpd_dsn_fix.h SMTPD_NAME_*) and reply name of each list.
const LISTS: Readonly<Record<string, ListKind>> = {
  smtpd_client_restrictions: { replyClass: 'Client host', defaultAcl: 'check_client_access', replyName: (c) => `${c.client.name}[${c.client.address}]` },
  smtpd_helo_restrictions: { replyClass: 'Helo command', defaultAcl: 'check_helo_access', replyName: (c) => c.helo ?? '' },
  smtpd_sender_restrictions: { replyClass: 'Sender address', defaultAcl: 'check_sender_access', replyName: (c) => c.sender ?? '' },
  smtpd_relay_restrictions: RECIPIENT_LIST,
  smtpd_recipient_restrictions: RECIPIENT_LIST,
  smtpd_etrn_restrictions: { replyClass: 'Etrn command', defaultAcl: 'check_etrn_access', replyName: (c) => c.etrnDomain ?? '' },
  smtpd_data_restrictions: { replyClass: 'Data command', replyName: () => 'DATA' },
  smtpd_end_of_data_restrictions: { replyClass: 'End-of-data', replyName: () => 'END-OF-MESSAGE' },
};

/** Names of the restriction lists the evaluator knows, in Postfix spelling. */
export const RESTRICTION_LISTS: readonly string[] = Object.keys(LISTS);

/** Postfix refuses nesting restriction classes deeper than this (generic_checks recursion). */
const MAX_CLASS_DEPTH = 100;

type ListResult =
  | { readonly kind: 'dunno' | 'permit' | 'discard' }
  | { readonly kind: 'reject' | 'error'; readonly reply: Reply };

interface Run {
  readonly ctx: TransactionContext;
  readonly stage: Stage;
  readonly facts: EngineFacts;
  readonly trace: TraceStep[];
  readonly state: RunState;
}

function newRun(stage: Stage, ctx: TransactionContext): Run {
  return {
    ctx, stage, facts: engineFacts(ctx.config), trace: [],
    state: {
      recipientMapChecked: false, senderMapChecked: false, discard: ctx.discarded ?? false, recursion: 0, warnIfReject: 0,
      deferIfPermit: ctx.deferIfPermit, events: [], actions: { prepend: [] },
    },
  };
}

/** SMTPD_CHECK_RESET(): what does not carry from one stage's lists to the next. */
function resetStage(run: Run): void {
  run.state.recursion = 0;
  run.state.warnIfReject = 0;
  run.state.deferIfReject = undefined;
}

function decide(run: Run, r: ListResult, note?: string): Decision {
  const base = {
    trace: run.trace, events: run.state.events, actions: run.state.actions,
    ...(run.state.deferIfPermit ? { deferIfPermit: run.state.deferIfPermit } : {}),
    ...(note ? { note } : {}),
  };
  switch (r.kind) {
    case 'reject': case 'error': return { action: 'reject', reply: r.reply, ...base };
    case 'discard': return { action: 'discard', ...base };
    case 'dunno': case 'permit': return { action: 'accept', ...base };
  }
}

const stops = (r: ListResult): r is { kind: 'reject' | 'error'; reply: Reply } => r.kind === 'reject' || r.kind === 'error';

/**
 * Runs one restriction list on its own and returns its decision: `accept` when it permits or
 * ends, `reject` on a reject, deferral or configuration error, `discard` on DISCARD. No implicit
 * checks run; evaluateStage() and evaluateRcpt() add those.
 */
export async function evaluateList(stage: Stage, listName: string, ctx: TransactionContext): Promise<Decision> {
  const run = newRun(stage, ctx);
  return decide(run, await runList(run, listName));
}

/** The end of the RCPT, ETRN, DATA and end-of-data stages: a pending DEFER_IF_PERMIT replaces an accept. */
function enforceDeferIfPermit(run: Run, r: ListResult): ListResult {
  const d = run.state.deferIfPermit;
  if (stops(r) || !d) return r;
  return record(run, 'defer_if_permit', 'defer_if_permit', [], { kind: 'reject', reply: d, note: 'a DEFER_IF_PERMIT is pending and nothing rejected' });
}

/**
 * RCPT TO (smtpd_check_rcpt()): an unqualified "postmaster" is accepted unconditionally
 * (RFC 5321 §4.5.1); with smtpd_delay_reject the client, HELO and sender lists run first; then
 * the relay and recipient lists; then the implicit reject_unlisted_recipient check.
 */
export async function evaluateRcpt(ctx: TransactionContext): Promise<Decision> {
  const rcpt = ctx.recipient;
  if (rcpt === undefined) throw new Error('evaluateRcpt: the context has no recipient');
  const run = newRun('rcpt', ctx);
  if (rcpt.toLowerCase() === 'postmaster') {
    return decide(run, { kind: 'permit' }, 'unqualified "postmaster" is always accepted (RFC 5321 §4.5.1)');
  }
  const cfg = ctx.config;
  prefetchDns(run, cfg.bool('smtpd_delay_reject')
    ? ['smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions', 'smtpd_relay_restrictions', 'smtpd_recipient_restrictions']
    : ['smtpd_relay_restrictions', 'smtpd_recipient_restrictions']);
  if (cfg.bool('smtpd_delay_reject')) {
    const r = await delayedLists(run, true);
    if (stops(r)) return decide(run, r);
  }

  resetStage(run);
  const order = cfg.bool('smtpd_relay_before_recipient_restrictions')
    ? ['smtpd_relay_restrictions', 'smtpd_recipient_restrictions']
    : ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions'];
  let r: ListResult = { kind: 'dunno' };
  for (const list of order) {
    r = await runList(run, list);
    if (stops(r)) return decide(run, r);
  }
  r = enforceDeferIfPermit(run, r);
  if (stops(r)) return decide(run, r);

  // smtpd_reject_unlisted_recipient: an implicit reject_unlisted_recipient after both lists,
  // even when a list said permit, unless the restriction already ran or mail is discarded.
  if (cfg.bool('smtpd_reject_unlisted_recipient') && !run.state.recipientMapChecked && !run.state.discard && rcpt !== '') {
    const m = await implicitMapCheck(run, 'smtpd_reject_unlisted_recipient', 'reject_unlisted_recipient', RECIPIENT_LIST, rcpt, 'recipient');
    if (stops(m)) return decide(run, m);
  }
  return decide(run, run.state.discard ? { kind: 'discard' } : { kind: 'permit' });
}

/** The restriction lists of one SMTP stage, with smtpd_delay_reject deciding where client, HELO and sender lists run. */
export async function evaluateStage(stage: Stage, ctx: TransactionContext): Promise<Decision> {
  const delay = ctx.config.bool('smtpd_delay_reject');
  const delayed = (what: string) => decide(newRun(stage, ctx), { kind: 'dunno' }, `smtpd_delay_reject = yes: ${what} evaluated at RCPT TO`);
  switch (stage) {
    case 'connect': {
      if (delay) return delayed('smtpd_client_restrictions');
      const run = newRun(stage, ctx);
      return decide(run, await clientList(run));
    }
    case 'helo': {
      if (delay) return delayed('smtpd_helo_restrictions');
      const run = newRun(stage, ctx);
      if (ctx.helo === undefined) return decide(run, { kind: 'dunno' }, 'no HELO/EHLO name');
      resetStage(run);
      return decide(run, await runList(run, 'smtpd_helo_restrictions'));
    }
    case 'mail': {
      if (delay) return delayed('smtpd_sender_restrictions');
      const run = newRun(stage, ctx);
      return decide(run, await senderLists(run));
    }
    case 'rcpt':
      return evaluateRcpt(ctx);
    case 'etrn': {
      const run = newRun(stage, ctx);
      if (delay) {
        const r = await delayedLists(run, false);
        if (stops(r)) return decide(run, r);
      }
      resetStage(run);
      return decide(run, enforceDeferIfPermit(run, await runList(run, 'smtpd_etrn_restrictions')));
    }
    case 'data': case 'eod': {
      // smtpd_check_data()/eod(): a deferral from earlier stages does not carry into these.
      const run = newRun(stage, { ...ctx, deferIfPermit: undefined });
      resetStage(run);
      const list = stage === 'data' ? 'smtpd_data_restrictions' : 'smtpd_end_of_data_restrictions';
      return decide(run, enforceDeferIfPermit(run, await runList(run, list)));
    }
  }
}

/**
 * Postfix refuses to start unless the relay or the recipient list contains one of these
 * (smtpd_check.c smtpd_check_init(), has_required()): the scan stops at `permit`, skips the
 * restriction after `warn_if_reject`, and looks into restriction classes. It checks presence,
 * not position. Returns Postfix's message, or undefined when the configuration is safe.
 */
export function checkRelaySafety(cfg: Config): string | undefined {
  const required = ['reject_unauth_destination', 'defer_unauth_destination', 'reject', 'defer', 'defer_if_permit', 'check_relay_domains'];
  const classes = new Set(cfg.list('smtpd_restriction_classes'));
  const has = (tokens: readonly string[], depth: number): boolean => {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!.toLowerCase();
      if (t === 'warn_if_reject' && i + 1 < tokens.length) { i++; continue; }
      if (t === 'permit') return false;
      if (required.includes(t)) return true;
      if (classes.has(tokens[i]!) && depth < MAX_CLASS_DEPTH && cfg.isExplicit(tokens[i]!) && has(parseList(cfg.get(tokens[i]!)), depth + 1)) return true;
    }
    return false;
  };
  if (has(cfg.list('smtpd_relay_restrictions'), 0) || has(cfg.list('smtpd_recipient_restrictions'), 0)) return undefined;
  return `in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: ${required.slice(0, -1).join(', ')} or ${required[required.length - 1]}`;
}

/** smtpd_check_client(): a new deferral state, then the client list. */
async function clientList(run: Run): Promise<ListResult> {
  run.state.deferIfPermit = undefined;
  resetStage(run);
  return runList(run, 'smtpd_client_restrictions');
}

/** Client, HELO (when given) and, at RCPT, sender lists re-run for a delayed reject. */
async function delayedLists(run: Run, withSender: boolean): Promise<ListResult> {
  const client = await clientList(run);
  if (stops(client)) return client;
  if (run.ctx.helo !== undefined) {
    resetStage(run);
    const helo = await runList(run, 'smtpd_helo_restrictions');
    if (stops(helo)) return helo;
  }
  if (withSender && run.ctx.sender !== undefined) {
    const sender = await senderLists(run);
    if (stops(sender)) return sender;
  }
  return { kind: 'dunno' };
}

/** smtpd_check_mail(): the sender list, then the implicit reject_unlisted_sender for a non-null sender. */
async function senderLists(run: Run): Promise<ListResult> {
  resetStage(run);
  const r = await runList(run, 'smtpd_sender_restrictions');
  if (stops(r)) return r;
  const sender = run.ctx.sender;
  const cfg = run.ctx.config;
  if (sender && cfg.bool('smtpd_reject_unlisted_sender') && !run.state.senderMapChecked && !run.state.discard) {
    const kind = LISTS.smtpd_sender_restrictions!;
    const m = await implicitMapCheck(run, 'smtpd_reject_unlisted_sender', 'reject_unlisted_sender', kind, sender, 'sender');
    if (stops(m)) return m;
  }
  return r;
}

async function implicitMapCheck(run: Run, list: string, restriction: string, kind: ListKind, address: string, role: 'recipient' | 'sender'): Promise<ListResult> {
  const env = makeEnv(run, list, kind);
  const outcome = await guarded(restriction, () => checkRecipientMaps(env, address, role));
  return record(run, list, restriction, [], outcome);
}

function makeEnv(run: Run, list: string, kind: ListKind, subject?: ReplySubject): RestrictionEnv {
  // smtpd_check_data()/eod(): with several recipients there is no single recipient to test.
  const hide = (run.stage === 'data' || run.stage === 'eod') && run.ctx.recipientCount > 1;
  const tx = hide ? { ...run.ctx, recipient: undefined } : run.ctx;
  return {
    tx, stage: run.stage, list,
    replyClass: subject?.replyClass ?? kind.replyClass, replyName: subject?.replyName ?? kind.replyName(tx),
    facts: run.facts, run: run.state,
    nested: async (tokens, subj, note) => {
      if (run.state.recursion > MAX_CLASS_DEPTH) return configError(`${note} causes unreasonable recursion`);
      return asOutcome(await runTokens(run, list, tokens, kind, subj), note);
    },
  };
}

/** A nested list's result as the outcome of the restriction that ran it. */
function asOutcome(r: ListResult, what: string): Outcome {
  switch (r.kind) {
    case 'dunno': return { kind: 'dunno', note: `${what} did not decide` };
    case 'permit': return { kind: 'permit', note: `${what} permits` };
    case 'discard': return { kind: 'discard', note: `${what} discards` };
    case 'reject': return { kind: 'reject', reply: r.reply, note: `${what} rejects`, final: true };
    case 'error': return { kind: 'error', reply: r.reply, note: `${what} failed` };
  }
}

async function runList(run: Run, listName: string): Promise<ListResult> {
  const kind = LISTS[listName];
  if (!kind) throw new RangeError(`not a restriction list: ${listName}`);
  let tokens: readonly string[];
  try {
    tokens = run.ctx.config.list(listName);
  } catch (e) {
    return record(run, listName, listName, [], configError(message(e)));
  }
  return runTokens(run, listName, tokens, kind);
}

async function runTokens(run: Run, list: string, tokens: readonly string[], kind: ListKind, subject?: ReplySubject): Promise<ListResult> {
  const cfg = run.ctx.config;
  const st = run.state;
  const saved = st.recursion++;
  // One environment for the whole list: what it holds does not change between restrictions.
  let env: RestrictionEnv | undefined;
  try {
    for (const step of planFor(tokens, kind.defaultAcl)) {
      if (st.discard) break;
      const { token, name, def, args } = step;
      if (step.kind === 'warn_if_reject') {
        // The next restriction only (and whatever it evaluates) logs instead of rejecting.
        if (st.warnIfReject === 0) st.warnIfReject = st.recursion;
        run.trace.push({ stage: run.stage, list, restriction: name, args: [], outcome: { kind: 'dunno', note: 'the next restriction only warns' } });
        continue;
      }
      if (step.kind === 'bare-table-without-default') {
        // A bare type:table means the list's default access check; data and end-of-data have none.
        return record(run, list, token, [], configError(
          `specify one of (check_client_access, check_reverse_client_hostname_access, check_helo_access, check_sender_access, check_recipient_access, check_etrn_access) before ${kind.replyClass} restriction "${token}"`));
      }
      if (step.kind === 'missing-arguments') {
        return record(run, list, name, args, configError(`restriction ${name} needs ${def!.args} argument${def!.args === 1 ? '' : 's'}`));
      }

      let outcome: Outcome | Promise<Outcome>;
      if (def?.unavailable) {
        outcome = { kind: 'dunno', note: `not evaluated: ${def.unavailable}` };
      } else if (def) {
        env ??= makeEnv(run, list, kind, subject);
        const d = def;
        const e = env;
        outcome = guardedSync(name, () => d.evaluate(e, args));
        if (outcome instanceof Promise) outcome = await guarded(name, () => outcome as Promise<Outcome>);
      } else if (cfg.list('smtpd_restriction_classes').includes(token)) {
        outcome = await runClass(run, token, kind, subject);
      } else {
        outcome = configError(step.kind === 'bare-table'
          ? `${name}, the default check for a bare table in ${list}, is not implemented yet`
          : `unknown smtpd restriction: "${token}"`);
      }
      const r = record(run, list, name, args, outcome);
      if (st.warnIfReject >= st.recursion) st.warnIfReject = 0;
      if (r.kind !== 'dunno') return r;
      if (st.deferIfPermit && st.deferIfReject) break;
    }
    return { kind: 'dunno' };
  } finally {
    st.recursion = saved;
    // In case the list ended with warn_if_reject.
    if (st.warnIfReject >= st.recursion) st.warnIfReject = 0;
  }
}

/**
 * Starts every DNS lookup the lists may need, without waiting: each DNS restriction runs once
 * on a scratch copy of the state (its outcome is thrown away), which leaves its queries in
 * flight in the shared resolver; the real, ordered evaluation then finds them in flight or
 * cached. Nested lists (classes, access-table values) are not looked into.
 */
function prefetchDns(run: Run, lists: readonly string[]): void {
  for (const list of lists) {
    const kind = LISTS[list]!;
    let tokens: readonly string[];
    try { tokens = run.ctx.config.list(list); } catch { continue; }
    for (const step of planFor(tokens, kind.defaultAcl)) {
      const def = step.def;
      if (step.kind !== 'restriction' || !def || def.unavailable || !(def.usesDns || def.prefetch)) continue;
      const scratch: Run = { ...run, trace: [], state: { ...run.state, events: [], actions: { prepend: [] } } };
      const env = makeEnv(scratch, list, kind);
      try {
        if (def.prefetch) {
          const dns = run.facts.dns();
          for (const q of def.prefetch(env, step.args)) void dns.lookup(q.name, q.type).catch(() => undefined);
        } else {
          const o = def.evaluate(env, step.args);
          if (o instanceof Promise) o.catch(() => undefined);
        }
      } catch { /* the real evaluation reports it */ }
    }
  }
}

/** One entry of a list, read once: its name, definition and arguments (lists are parsed per Config and kept). */
interface PlanStep {
  readonly kind: 'restriction' | 'bare-table' | 'warn_if_reject' | 'bare-table-without-default' | 'missing-arguments';
  readonly token: string;
  /** Lower-cased name, or the default access check for a bare table. */
  readonly name: string;
  readonly def?: RestrictionDef;
  readonly args: string[];
}

const plans = new WeakMap<readonly string[], Map<string, PlanStep[]>>();

function planFor(tokens: readonly string[], defaultAcl: string | undefined): PlanStep[] {
  let byAcl = plans.get(tokens);
  if (!byAcl) { byAcl = new Map(); if (Object.isFrozen(tokens)) plans.set(tokens, byAcl); }
  let plan = byAcl.get(defaultAcl ?? '');
  if (plan) return plan;
  plan = [];
  for (let i = 0; i < tokens.length;) {
    const token = tokens[i]!;
    const name = token.toLowerCase();
    if (name === 'warn_if_reject') { plan.push({ kind: 'warn_if_reject', token, name, args: [] }); i += 1; continue; }
    if (isTablePattern(token)) {
      i += 1;
      if (!defaultAcl) { plan.push({ kind: 'bare-table-without-default', token, name: token, args: [] }); continue; }
      plan.push({ kind: 'bare-table', token, name: defaultAcl, def: restrictions.get(defaultAcl), args: [token] });
      continue;
    }
    const def = restrictions.get(name);
    const want = def?.args ?? 0;
    const args = tokens.slice(i + 1, i + 1 + want);
    i += 1 + want;
    plan.push({ kind: def && args.length < want ? 'missing-arguments' : 'restriction', token, name, def, args });
  }
  byAcl.set(defaultAcl ?? '', plan);
  return plan;
}

/** A restriction class: the named list, evaluated in the caller's context (smtpd_restriction_classes). */
async function runClass(run: Run, className: string, kind: ListKind, subject?: ReplySubject): Promise<Outcome> {
  const cfg = run.ctx.config;
  if (run.state.recursion > MAX_CLASS_DEPTH) return configError(`restriction class nesting deeper than ${MAX_CLASS_DEPTH} at ${className}`);
  if (!cfg.isExplicit(className) || cfg.get(className).trim() === '') return configError(`restriction class \`${className}' needs a definition`);
  let tokens: readonly string[];
  try { tokens = cfg.list(className); } catch (e) { return configError(message(e)); }
  return asOutcome(await runTokens(run, className, tokens, kind, subject), `class ${className}`);
}

/** As guarded(), without a turn of the event loop for restrictions that answer at once. */
function guardedSync(name: string, f: () => Outcome | Promise<Outcome>): Outcome | Promise<Outcome> {
  try {
    return f();
  } catch (e) {
    return configError(e instanceof ConfigError ? `${name}: ${e.message}` : `${name}: internal error: ${message(e)}`);
  }
}

/** Runs an evaluation; a ConfigError or any other exception becomes 451 4.3.5 with a note. */
async function guarded(name: string, f: () => Outcome | Promise<Outcome>): Promise<Outcome> {
  try {
    return await f();
  } catch (e) {
    return configError(e instanceof ConfigError ? `${name}: ${e.message}` : `${name}: internal error: ${message(e)}`);
  }
}

/**
 * smtpd_check_reject(): a reject under warn_if_reject is only logged; a 5xx while a
 * DEFER_IF_REJECT is pending becomes that deferral; then the reply is made printable and
 * soft_bounce applies.
 */
function checkReject(run: Run, r: Reply): { warned: boolean; reply: Reply } {
  const st = run.state;
  const warn = st.warnIfReject > 0;
  let out = printableReply(r);
  if (!warn && st.deferIfReject && out.code >= 500) {
    const d = st.deferIfReject;
    st.warnIfReject = 0;
    st.deferIfReject = undefined;
    return checkReject(run, d);
  }
  if (out.code >= 500 && run.ctx.config.bool('soft_bounce')) out = softened(out);
  if (warn) st.events.push({ action: 'reject_warning', text: replyLine(out) });
  return { warned: warn, reply: out };
}

/** Records a trace step and turns the outcome into a list result; rejects get their final reply here. */
function record(run: Run, list: string, restriction: string, args: readonly string[], outcome: Outcome): ListResult {
  const st = run.state;
  const step = (o: Outcome) => run.trace.push({ stage: run.stage, list, restriction, args, outcome: o });
  switch (outcome.kind) {
    case 'dunno': step(outcome); return { kind: 'dunno' };
    case 'permit': step(outcome); return { kind: 'permit' };
    case 'discard': step(outcome); st.discard = true; return { kind: 'discard' };
    case 'reject_warning': step(outcome); return { kind: 'dunno' };
    case 'error':
      step(outcome);
      st.events.push({ action: 'warning', text: outcome.note });
      return { kind: 'error', reply: outcome.reply };
    case 'defer_if_reject':
      step(outcome);
      st.deferIfReject ??= outcome.reply;
      return { kind: 'dunno' };
    case 'defer_if_permit':
    case 'reject': {
      // DEFER_IF_PERMIT under warn_if_reject is an immediate (warned) deferral.
      if (outcome.kind === 'defer_if_permit' && st.warnIfReject === 0) {
        step(outcome);
        st.deferIfPermit ??= outcome.reply;
        return { kind: 'dunno' };
      }
      if (outcome.kind === 'reject' && outcome.final) { step(outcome); return { kind: 'reject', reply: outcome.reply }; }
      const c = checkReject(run, outcome.reply);
      if (c.warned) { step({ kind: 'reject_warning', reply: c.reply, note: outcome.note }); return { kind: 'dunno' }; }
      step({ kind: 'reject', reply: c.reply, note: outcome.note, final: true });
      return { kind: 'reject', reply: c.reply };
    }
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
