/**
 * @module limits
 * Where the SMTP server meets the rate limits and bans: refuseAtConnect() for the listener
 * (bans, connection rate) and SessionLimits for the session's verbs (MAIL, RCPT, AUTH,
 * STARTTLS, end of message), which also reports offences to bans/. The decisions are in
 * limits/limiter and bans/bans; this module adds exemptions, the store failure policy, logging
 * and the fast path (no store access when nothing is configured).
 *
 * Exemptions: $smtpd_client_event_limit_exceptions (default $mynetworks) and XCLIENT-authorised
 * hosts are exempt from the anvil limits and from client_address rules, as in smtpd.c; rules
 * keyed by sasl_username or sender apply to every client (a stolen password used through a
 * trusted webmail host is still limited).
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { NetworkList } from '../engine/networks.js';
import { namaddr, type Logger } from '../log/logger.js';
import { checkBan, configureBans, isBanExempt, recordOffence } from '../bans/index.js';
import { renderReply, reply, replyLine, type Reply } from '../smtp/reply.js';
import { StoreUnavailableError } from '../state/types.js';
import { anvilCheck, applyRules, type AnvilEvent, type LimitSubject, type LimitVerdict, type RuleMode } from './limiter.js';
import { rulesOf, type RuleMetric } from './rules.js';
import { limitsStore, storeFailureMode, warnStoreFailure } from './store.js';

const ANVIL_PARAM: Record<AnvilEvent, string> = {
  connection: 'smtpd_client_connection_rate_limit', message: 'smtpd_client_message_rate_limit',
  recipient: 'smtpd_client_recipient_rate_limit', auth: 'smtpd_client_auth_rate_limit', tls: 'smtpd_client_new_tls_session_rate_limit',
};

interface Active { anvil: Set<AnvilEvent>; metrics: Set<RuleMetric>; exceptions: NetworkList }
const activeCache = new WeakMap<Config, Active>();
/** active - what this configuration limits at all (parsed once per Config). */
function active(cfg: Config): Active {
  let a = activeCache.get(cfg);
  if (!a) {
    a = {
      anvil: new Set((Object.keys(ANVIL_PARAM) as AnvilEvent[]).filter((e) => cfg.int(ANVIL_PARAM[e]) > 0)),
      metrics: new Set(rulesOf(cfg).map((r) => r.metric)),
      exceptions: new NetworkList(cfg.list('smtpd_client_event_limit_exceptions'), { name: 'smtpd_client_event_limit_exceptions' }),
    };
    activeCache.set(cfg, a);
  }
  return a;
}

const TEMPFAIL_CMD = (): Reply => reply(451, '3.0', 'Temporary lookup failure');

export interface ConnectDeps {
  readonly config: Config;
  /** The connection's logger (its smtpd lines carry the session's number: log/session-pid). */
  readonly logger: Logger;
  /** The process's logger, for what outlives the connection (bans recorded later); default `logger`. */
  readonly processLogger?: Logger;
  readonly service: string;
  /** XCLIENT-authorised hosts, exempt like the event limit exceptions. */
  readonly xclientHosts?: NetworkList;
}

/**
 * refuseAtConnect - before the greeting: a banned client gets `421 4.7.0 <host> Error: client
 * ADDR banned (REASON); try again later`, a client over its connection rate smtpd.c's 421.
 * Answers true when it refused (and closed) the connection.
 */
export async function refuseAtConnect(socket: Socket, client: { address: string; name: string }, d: ConnectDeps): Promise<boolean> {
  const cfg = d.config;
  configureBans({ config: cfg, logger: d.processLogger ?? d.logger });
  const clientLog = namaddr(client.name, client.address);
  const refuse = (r: Reply) => {
    socket.end(renderReply(r));
    setTimeout(() => socket.destroy(), 2000).unref();
    return true;
  };
  const ban = await checkBan({ config: cfg, logger: d.logger }, client.address, client.name);
  if (ban.kind === 'banned') {
    const r = reply(421, '7.0', ban.text);
    d.logger.line('smtpd', `NOQUEUE: reject: CONNECT from ${clientLog}: ${replyLine(r)}; ban ${ban.ban.count} until ${new Date(ban.ban.until).toISOString()}; proto=SMTP`, cfg.get('syslog_name'));
    return refuse(r);
  }
  if (ban.kind === 'tempfail') return refuse(reply(421, '3.0', `${cfg.get('myhostname')} Error: Temporary lookup failure`));
  const a = active(cfg);
  if (!a.anvil.has('connection') && !a.metrics.has('connections')) return false;
  if (a.exceptions.matches(client.address, client.name) || d.xclientHosts?.matches(client.address, client.name)) return false;
  const subject: LimitSubject = { service: d.service, address: client.address, clientLog };
  try {
    const store = await limitsStore(cfg, d.logger);
    const v = (a.anvil.has('connection') ? await anvilCheck(store, cfg, 'connection', subject) : undefined)
      ?? (a.metrics.has('connections') ? await applyRules(store, cfg, 'connections', subject, 1, 'take') : undefined);
    if (!v) return false;
    d.logger.line('smtpd', `warning: ${v.log}`, cfg.get('syslog_name'));
    return refuse(v.reply);
  } catch (e) {
    if (!(e instanceof StoreUnavailableError)) throw e;
    warnStoreFailure(d.logger, cfg, 'connection rate limit', e);
    return storeFailureMode(cfg) === 'tempfail' ? refuse(reply(421, '3.0', `${cfg.get('myhostname')} Error: Temporary lookup failure`)) : false;
  }
}

export interface SessionLimitsDeps extends ConnectDeps {
  readonly address: string;
  readonly name: string;
  /** name[address] (with port when logged) for log lines. */
  readonly clientLog: string;
}

/** SessionLimits - one session's limit checks; every method is cheap when nothing is configured. */
export class SessionLimits {
  private readonly a: Active;
  private readonly exempt: boolean;

  constructor(private readonly d: SessionLimitsDeps) {
    this.a = active(d.config);
    this.exempt = this.a.exceptions.matches(d.address, d.name) || (d.xclientHosts?.matches(d.address, d.name) ?? false);
  }

  private subject(sasl?: string, sender?: string): LimitSubject {
    return { service: this.d.service, address: this.d.address, clientLog: this.d.clientLog, saslUsername: sasl, sender };
  }

  /** guard - runs checks with the store failure policy; logs a refusal's warning. */
  private async guard(what: string, f: () => Promise<LimitVerdict | undefined>): Promise<Reply | undefined> {
    const cfg = this.d.config;
    try {
      const v = await f();
      if (!v) return undefined;
      this.d.logger.line('smtpd', `warning: ${v.log}`, cfg.get('syslog_name'));
      return v.reply;
    } catch (e) {
      if (!(e instanceof StoreUnavailableError)) throw e;
      warnStoreFailure(this.d.logger, cfg, what, e);
      return storeFailureMode(cfg) === 'tempfail' ? TEMPFAIL_CMD() : undefined;
    }
  }

  private async check(event: AnvilEvent | undefined, metric: RuleMetric | undefined, s: LimitSubject, weight: number, mode: RuleMode): Promise<Reply | undefined> {
    const anvil = event !== undefined && !this.exempt && this.a.anvil.has(event);
    const rules = metric !== undefined && this.a.metrics.has(metric);
    if (!anvil && !rules) return undefined;
    return this.guard(`${metric ?? event} rate limit`, async () => {
      const store = await limitsStore(this.d.config, this.d.logger);
      return (anvil ? await anvilCheck(store, this.d.config, event!, s) : undefined)
        ?? (rules ? await applyRules(store, this.d.config, metric!, s, weight, mode, { exemptClient: this.exempt }) : undefined);
    });
  }

  /** mail - MAIL FROM: smtpd_client_message_rate_limit, message rules, and bytes rules already spent (or that SIZE= would exceed). */
  async mail(sasl: string | undefined, sender: string, declaredSize?: number): Promise<Reply | undefined> {
    const s = this.subject(sasl, sender);
    return await this.check('message', 'messages', s, 1, 'take') ?? this.check(undefined, 'bytes', s, declaredSize ?? 0, 'check');
  }

  /** rcpt - RCPT TO: smtpd_client_recipient_rate_limit and recipient rules. */
  async rcpt(sasl: string | undefined, sender: string | undefined): Promise<Reply | undefined> {
    return this.check('recipient', 'recipients', this.subject(sasl, sender), 1, 'take');
  }

  /** auth - before an AUTH exchange: smtpd_client_auth_rate_limit and auth_failures rules. */
  async auth(): Promise<Reply | undefined> {
    return this.check('auth', 'auth_failures', this.subject(), 0, 'check');
  }

  /** tls - before a STARTTLS handshake: smtpd_client_new_tls_session_rate_limit (421: the caller hangs up). */
  async tls(): Promise<Reply | undefined> {
    return this.check('tls', undefined, this.subject(), 0, 'check');
  }

  /** authFailed - a failed AUTH: counted by auth_failures rules and as a ban offence. */
  async authFailed(): Promise<void> {
    await this.check(undefined, 'auth_failures', this.subject(), 1, 'record');
    await recordOffence(this.d.address, 'auth_failure', { config: this.d.config, logger: this.d.logger });
  }

  /** queued - a message was accepted: its size counts for bytes rules. */
  async queued(sasl: string | undefined, sender: string, bytes: number): Promise<void> {
    await this.check(undefined, 'bytes', this.subject(sasl, sender), bytes, 'record');
  }

  /** errorLimit - the session ended at $smtpd_hard_error_limit. */
  async errorLimit(): Promise<void> {
    await recordOffence(this.d.address, 'error_limit', { config: this.d.config, logger: this.d.logger });
  }

  /** rejected - a command was rejected by the restrictions (a NOQUEUE reject line). */
  async rejected(): Promise<void> {
    if (this.d.config.int('mxguard_ban_rejects') <= 0) return;
    await recordOffence(this.d.address, 'reject', { config: this.d.config, logger: this.d.logger });
  }
}

/**
 * checkLimitsConfig - parses the rules and allowlists of a service's configuration at start-up,
 * so that a malformed rule or network stops mxguard (ConfigError) instead of failing sessions.
 */
/** Whether a client is in $smtpd_client_event_limit_exceptions (exempt from client_address rules). */
export function isEventLimitException(cfg: Config, address: string, name: string): boolean {
  return active(cfg).exceptions.matches(address, name);
}

export function checkLimitsConfig(cfg: Config): void {
  active(cfg);
  isBanExempt(cfg, '0.0.0.0');
}
