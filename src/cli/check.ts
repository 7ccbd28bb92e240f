/**
 * @module cli/check
 * `mxguard check`: runs one described transaction through the policy engine, without a network,
 * and prints per stage what the SMTP server would answer and why (the decision's trace).
 *
 * The stages follow an SMTP session (smtp/session.ts): connect, HELO (when --helo is given),
 * MAIL FROM (the null sender unless --sender), one RCPT TO per --recipient, DATA and end of
 * data when a recipient was accepted. As in the session, a reject at connect (with
 * smtpd_delay_reject = no) or at MAIL ends the transaction; a rejected HELO does not. With
 * smtpd_delay_reject = yes the client, HELO and sender lists run at RCPT TO, which the
 * earlier stages' notes say. DEFER_IF_PERMIT carries from stage to stage as in the session.
 *
 * Exit status: 0 everything accepted; 1 something rejected (5xx); 2 something deferred (4xx)
 * and nothing rejected; 3 a configuration error (unreadable configuration, bad arguments, or
 * a trace step with outcome `error`, e.g. an unknown restriction: 451 4.3.5).
 * With --mailauth (or --message FILE) SPF is evaluated at MAIL FROM for the sender and the HELO
 * name, through the configured DNS servers (mxguard_dns_servers), and with --message the file
 * is read as the DATA: DKIM and DMARC are evaluated and the Authentication-Results: header the
 * gateway would add is shown; mxguard_spf_*, mxguard_dkim_* and mxguard_dmarc_* decide the reply.
 * The trace is printed generically (list, restriction, arguments, outcome kind, reply, note),
 * so outcome kinds the engine adds later show up without changes here.
 */
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import { evaluateStage, type Decision, type Stage, type TraceStep, type TransactionContext } from '../engine/index.js';
import { replyLine, reply, type Reply } from '../smtp/reply.js';
import { printWarnings } from './serve.js';
import { readFileSync } from 'node:fs';
import { startInboundAuth, type InboundAuth } from '../mailauth/index.js';

export interface CheckOptions {
  readonly config?: string;
  readonly service?: string;
  readonly clientAddress: string;
  readonly clientName?: string;
  readonly reverseClientName?: string;
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient: readonly string[];
  readonly saslUsername?: string;
  readonly saslMethod?: string;
  readonly tls?: boolean;
  readonly json?: boolean;
  /** Evaluate SPF at MAIL FROM (DNS lookups through the configured servers). */
  readonly mailauth?: boolean;
  /** A message file (LF or CRLF line ends): DKIM and DMARC are evaluated on it after DATA. */
  readonly message?: string;
}

/** One simulated command and what the server would do. */
interface StageResult {
  readonly stage: Stage;
  /** The command as a client would send it (CONNECT for the connection itself). */
  readonly command: string;
  readonly reply: Reply;
  readonly action: Decision['action'];
  readonly note?: string;
  readonly events: Decision['events'];
  readonly trace: readonly TraceStep[];
  /** The server's own answer, not a restriction's (DATA without recipients): not counted in the exit status. */
  readonly consequence?: boolean;
  /** SPF/DKIM/DMARC: the resinfos at MAIL FROM, the Authentication-Results: header at end of data. */
  readonly authentication?: readonly string[];
}

export const EXIT_OK = 0, EXIT_REJECT = 1, EXIT_DEFER = 2, EXIT_CONFIG = 3;

/** An argument or configuration problem: the message goes to stderr and the exit status is 3. */
class CheckUsageError extends Error {}

function checkArgs(o: CheckOptions): void {
  const addr = o.clientAddress.replace(/^\[|\]$/g, '').replace(/^ipv6:/i, '');
  if (!ipaddr.isValid(addr) || addr.includes('%')) throw new CheckUsageError(`--client-address: not an IP address: ${o.clientAddress}`);
  if (!o.recipient.length) throw new CheckUsageError('at least one --recipient is needed');
  for (const r of o.recipient) if (/[<>\s]/.test(r) || r === '') throw new CheckUsageError(`--recipient: give the bare address, without <>: "${r}"`);
  if (o.sender !== undefined && /[<>\s]/.test(o.sender)) throw new CheckUsageError(`--sender: give the bare address, without <> ("" for the null sender): "${o.sender}"`);
}

function pickConfig(o: CheckOptions): Config {
  const loaded = loadConfig({ dir: o.config });
  printWarnings(loaded);
  if (!o.service) return loaded.config;
  const l = loaded.listeners.find((x) => x.service === o.service);
  if (!l) throw new CheckUsageError(`--service: no smtpd service "${o.service}" in master.cf (have: ${[...new Set(loaded.listeners.map((x) => x.service))].join(', ')})`);
  return l.config;
}

/** simulate - runs the stages; the engine decides, this only sequences and renders. */
async function simulate(o: CheckOptions, cfg: Config): Promise<StageResult[]> {
  const address = o.clientAddress.replace(/^\[|\]$/g, '').replace(/^ipv6:/i, '');
  const name = o.clientName ?? 'unknown';
  const client = { address, port: 0, name, reverseName: o.reverseClientName ?? name };
  const sender = o.sender ?? '';
  const host = cfg.get('myhostname');
  const results: StageResult[] = [];
  let helo: string | undefined;
  const deferred: { client?: Reply; helo?: Reply; sender?: Reply } = {};
  const base = (stage: Stage, extra: Partial<TransactionContext> = {}): TransactionContext => ({
    stage, config: cfg, service: o.service ?? 'smtp', client, helo, protocol: helo !== undefined ? 'ESMTP' : 'SMTP', tls: !!o.tls,
    sasl: o.saslUsername ? { method: o.saslMethod ?? 'PLAIN', username: o.saslUsername } : undefined,
    recipientCount: 0, ...extra,
  });
  const step = async (stage: Stage, command: string, ctx: TransactionContext, ok: Reply): Promise<StageResult> => {
    const d = await evaluateStage(stage, ctx);
    const r: StageResult = {
      stage, command, reply: d.action === 'reject' && d.reply ? d.reply : ok, action: d.action,
      note: d.note, events: d.events, trace: d.trace,
    };
    results.push(r);
    lastDeferral = d.deferIfPermit;
    return r;
  };
  let lastDeferral: Reply | undefined;
  const rejected = (r: StageResult) => r.action === 'reject';

  const conn = await step('connect', 'CONNECT', base('connect'), reply(220, undefined, cfg.get('smtpd_banner')));
  deferred.client = lastDeferral;
  // smtpd(8): after a connect-stage reject every command but QUIT gets 503; nothing more to check.
  if (rejected(conn)) return results;

  if (o.helo !== undefined) {
    const h = await step('helo', `EHLO ${o.helo}`, base('helo', { helo: o.helo, protocol: 'ESMTP', deferIfPermit: deferred.client }), reply(250, undefined, host));
    deferred.helo = lastDeferral;
    if (!rejected(h)) helo = o.helo;
  }
  const mail = await step('mail', `MAIL FROM:<${sender}>`, base('mail', { sender, deferIfPermit: deferred.helo ?? deferred.client }), reply(250, '1.0', 'Ok'));
  deferred.sender = lastDeferral;
  if (rejected(mail)) return results;
  let auth: InboundAuth | undefined;
  if (o.mailauth || o.message !== undefined) {
    auth = await startInboundAuth(cfg, { client: { address, name, authenticated: !!o.saslUsername }, helo: o.helo, sender });
    const lines = auth ? [auth.spf.resinfo, ...(auth.helo ? [auth.helo.resinfo] : [])] : ['not evaluated (mxguard_mailauth_enable, mxguard_mailauth_trusted_clients)'];
    if (auth?.reply) {
      results[results.length - 1] = { ...mail, reply: auth.reply, action: 'reject', note: auth.verdict.reason, authentication: lines };
      return results;
    }
    results[results.length - 1] = { ...mail, authentication: lines };
  }

  const accepted: string[] = [];
  for (const rcpt of o.recipient) {
    const r = await step('rcpt', `RCPT TO:<${rcpt}>`, base('rcpt', { sender, recipient: rcpt, recipientCount: accepted.length, deferIfPermit: deferred.sender }), reply(250, '1.5', 'Ok'));
    if (!rejected(r)) accepted.push(rcpt);
  }
  if (accepted.length === 0) {
    results.push({ stage: 'data', command: 'DATA', reply: reply(554, '5.1', 'Error: no valid recipients'), action: 'reject', note: 'no recipient was accepted', events: [], trace: [], consequence: true });
    return results;
  }
  // smtpd_check.c: with more than one recipient the DATA and end-of-data stages see none.
  const recipient = accepted.length === 1 ? accepted[0] : undefined;
  const data = await step('data', 'DATA', base('data', { sender, recipient, recipientCount: accepted.length }), reply(354, undefined, 'End data with <CR><LF>.<CR><LF>'));
  if (rejected(data)) return results;
  const eod = await step('eod', '.', base('eod', { sender, recipient, recipientCount: accepted.length }), reply(250, '0.0', 'Ok: queued as (not queued: simulation)'));
  if (auth && o.message !== undefined && !rejected(eod)) {
    // The file is what the client sends after DATA: CRLF line ends, as on the wire.
    await auth.push(Buffer.from(readMessage(o.message).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
    const a = await auth.finish();
    const lines = a.header.replace(/\r\n$/, '').split('\r\n');
    const v = a.verdict;
    results[results.length - 1] = v.reply
      ? { ...eod, reply: v.reply, action: 'reject', note: v.reason, authentication: lines }
      : { ...eod, note: v.action === 'hold' ? `${v.reason}: the message would wait in the hold queue` : eod.note, authentication: lines };
  }
  return results;
}

function readMessage(path: string): Buffer {
  try { return readFileSync(path); } catch (e) { throw new CheckUsageError(`--message: cannot read ${path}: ${(e as Error).message}`); }
}

/** The exit status a set of results asks for (3 > 1 > 2 > 0). */
function exitStatus(results: readonly StageResult[]): number {
  if (results.some((r) => r.trace.some((s) => s.outcome.kind === 'error'))) return EXIT_CONFIG;
  const codes = results.filter((r) => r.action === 'reject' && !r.consequence).map((r) => r.reply.code);
  if (codes.some((c) => c >= 500)) return EXIT_REJECT;
  if (codes.some((c) => c >= 400)) return EXIT_DEFER;
  return EXIT_OK;
}

/** One trace step as text: `list: restriction args -> kind [reply] (note)`, whatever the outcome kind. */
export function traceText(s: TraceStep): string {
  const o = s.outcome as { kind: string; note?: string; reply?: Reply };
  const r = o.reply ? ` ${replyLine(o.reply)}` : '';
  const note = o.note ? ` (${o.note})` : '';
  return `${s.list}: ${[s.restriction, ...s.args].join(' ')} -> ${o.kind}${r}${note}`;
}

function renderText(o: CheckOptions, results: readonly StageResult[], status: number): string {
  const name = o.clientName ?? 'unknown';
  const lines: string[] = [`client ${name}[${o.clientAddress}]${o.saslUsername ? `, sasl_method=${o.saslMethod ?? 'PLAIN'}, sasl_username=${o.saslUsername}` : ''}${o.tls ? ', TLS' : ''}`];
  for (const r of results) {
    lines.push('', `${r.stage}: ${r.command}`, `  ${replyLine(r.reply)}`);
    if (r.action === 'discard') lines.push('  action: discard (accepted, then dropped)');
    if (r.note) lines.push(`  note: ${r.note}`);
    for (const e of r.events) lines.push(`  ${e.action}: ${e.text}`);
    for (const a of r.authentication ?? []) lines.push(`  authentication: ${a}`);
    for (const s of r.trace) lines.push(`  trace: ${traceText(s)}`);
  }
  const verdict = ['accepted', 'rejected', 'deferred', 'configuration error'][status]!;
  lines.push('', `result: ${verdict} (exit status ${status})`);
  return lines.join('\n') + '\n';
}

/** JSON form: errors inside outcomes (a `cause`) become their message. */
function renderJson(o: CheckOptions, results: readonly StageResult[], status: number): string {
  const doc = {
    client: { address: o.clientAddress, name: o.clientName ?? 'unknown', reverseName: o.reverseClientName ?? o.clientName ?? 'unknown' },
    helo: o.helo ?? null, sender: o.sender ?? '', recipients: o.recipient,
    sasl: o.saslUsername ? { method: o.saslMethod ?? 'PLAIN', username: o.saslUsername } : null, tls: !!o.tls,
    stages: results.map((r) => ({
      stage: r.stage, command: r.command, action: r.action, reply: replyLine(r.reply),
      code: r.reply.code, ...(r.note ? { note: r.note } : {}), events: r.events, ...(r.authentication ? { authentication: r.authentication } : {}),
      trace: r.trace.map((s) => ({ ...s, outcome: { ...s.outcome, ...('reply' in s.outcome && s.outcome.reply ? { replyLine: replyLine(s.outcome.reply) } : {}) } })),
    })),
    exitStatus: status,
  };
  return JSON.stringify(doc, (_k, v: unknown) => (v instanceof Error ? v.message : v), 2) + '\n';
}

/** checkCommand - the `mxguard check` action; returns the exit status. */
export async function checkCommand(o: CheckOptions): Promise<number> {
  let results: StageResult[];
  try {
    checkArgs(o);
    const cfg = pickConfig(o);
    results = await simulate(o, cfg);
  } catch (e) {
    if (e instanceof CheckUsageError || e instanceof ConfigError) {
      process.stderr.write(`mxguard: check: ${e.message}\n`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  const status = exitStatus(results);
  process.stdout.write(o.json ? renderJson(o, results, status) : renderText(o, results, status));
  return status;
}
