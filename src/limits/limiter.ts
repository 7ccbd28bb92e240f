/**
 * @module limits/limiter
 * The rate-limit decisions, on a StateStore, without sockets (unit-testable with MemoryStore).
 *
 * anvil(8)'s limits (smtpd_client_*_rate_limit): one counter per (service, client address,
 * event), a FIXED window of $anvil_rate_time_unit that starts with the client's first event;
 * every request counts, refused ones included (anvil increments before smtpd compares), and
 * smtpd refuses when the count exceeds the limit. Replies and warning lines are smtpd.c's.
 *
 * $mxguard_rate_limits rules (limits/rules): SLIDING windows by default (an event is forgotten
 * exactly WINDOW after it happened; `window=fixed` gives postfwd's window that starts with the
 * first event). As in postfwd, a refused event is not counted: a client that keeps trying is
 * not locked out longer. Each rule answers 450 4.7.1 (action=defer) or 550 5.7.1
 * (action=reject); a connection rule 421 4.7.0 or 521 5.7.1.
 *
 * Blind spots: NAT clients share a counter (anvil's BUGS); check and record are two store calls,
 * so parallel sessions may overshoot a rule by the number of sessions racing.
 */
import type { Config } from '../config/config.js';
import { reply, type Reply } from '../smtp/reply.js';
import type { StateStore } from '../state/types.js';
import { formatWindow, rulesOf, type RateRule, type RuleKey, type RuleMetric } from './rules.js';

export interface LimitSubject {
  /** master.cf service name (anvil's key includes it). */
  readonly service: string;
  readonly address: string;
  /** name[address] for log lines. */
  readonly clientLog: string;
  readonly saslUsername?: string;
  /** MAIL FROM address; '' is the null sender (no sender_* rule applies to it). */
  readonly sender?: string;
}

export interface LimitVerdict {
  readonly reply: Reply;
  /** The warning line to log (without "warning: "). */
  readonly log: string;
}

/** The anvil(8) events smtpd asks about, with smtpd.c's reply and warning. */
export type AnvilEvent = 'connection' | 'message' | 'recipient' | 'auth' | 'tls';

const ANVIL: Record<AnvilEvent, { param: string; warning: string; reply: (host: string, addr: string) => Reply }> = {
  connection: { param: 'smtpd_client_connection_rate_limit', warning: 'Connection rate limit exceeded',
    reply: (host, addr) => reply(421, '7.0', `${host} Error: too many connections from ${addr}`) },
  message: { param: 'smtpd_client_message_rate_limit', warning: 'Message delivery request rate limit exceeded',
    reply: (_h, addr) => reply(450, '7.1', `Error: too much mail from ${addr}`) },
  recipient: { param: 'smtpd_client_recipient_rate_limit', warning: 'Recipient address rate limit exceeded',
    reply: (_h, addr) => reply(450, '7.1', `Error: too many recipients from ${addr}`) },
  auth: { param: 'smtpd_client_auth_rate_limit', warning: 'AUTH command rate limit exceeded',
    reply: (_h, addr) => reply(450, '7.1', `Error: too many AUTH commands from ${addr}`) },
  tls: { param: 'smtpd_client_new_tls_session_rate_limit', warning: 'New TLS session rate limit exceeded',
    reply: (host, addr) => reply(421, '7.0', `${host} Error: too many new TLS sessions from ${addr}`) },
};

/** anvilCheck - counts one anvil event and answers whether it exceeds the service's limit. */
export async function anvilCheck(store: StateStore, cfg: Config, event: AnvilEvent, s: LimitSubject): Promise<LimitVerdict | undefined> {
  const a = ANVIL[event];
  const limit = cfg.int(a.param);
  if (limit <= 0) return undefined;
  const unit = cfg.time('anvil_rate_time_unit') * 1000;
  const n = await store.increment(`rate:anvil:${s.service}:${event}:${s.address}`, 1, unit);
  if (n <= limit) return undefined;
  return { reply: a.reply(cfg.get('myhostname'), s.address), log: `${a.warning}: ${n} from ${s.clientLog} for service ${s.service}` };
}

/** keyValue - the value a rule counts by for this subject, or undefined when it does not apply. */
export function keyValue(key: RuleKey, s: LimitSubject): string | undefined {
  switch (key) {
    case 'client_address': return s.address;
    case 'sasl_username': return s.saslUsername || undefined;
    case 'sender_address': return s.sender ? s.sender.toLowerCase() : undefined;
    case 'sender_domain': {
      const at = s.sender ? s.sender.lastIndexOf('@') : -1;
      return at > 0 ? s.sender!.slice(at + 1).toLowerCase().replace(/\.$/, '') : undefined;
    }
  }
}

const TEXT: Record<RuleMetric, string> = {
  connections: 'too many connections from', messages: 'too much mail from', recipients: 'too many recipients from',
  bytes: 'too many message bytes from', auth_failures: 'too many failed AUTH attempts from',
};

function ruleReply(cfg: Config, rule: RateRule, value: string): Reply {
  if (rule.metric === 'connections') {
    const host = cfg.get('myhostname');
    return rule.action === 'reject' ? reply(521, '7.1', `${host} Error: ${TEXT.connections} ${value}`) : reply(421, '7.0', `${host} Error: ${TEXT.connections} ${value}`);
  }
  return rule.action === 'reject' ? reply(550, '7.1', `Error: ${TEXT[rule.metric]} ${value}`) : reply(450, '7.1', `Error: ${TEXT[rule.metric]} ${value}`);
}

/**
 * How an event meets the rules:
 * - `take`: refuse when the window would go over its limit with this event; else record it;
 * - `check`: refuse when `weight` more (at least 1) would go over; record nothing;
 * - `record`: record without refusing (bytes after the message, failed AUTH attempts).
 */
export type RuleMode = 'take' | 'check' | 'record';

/** ruleStoreKey - one counter per key value, metric and window (rules with the same window share it). */
function ruleStoreKey(rule: RateRule, value: string, seconds: number): string {
  return `rate:rule:${rule.key}:${rule.metric}:${formatWindow(seconds)}:${rule.window}:${value}`;
}

async function windowTotal(store: StateStore, rule: RateRule, key: string, seconds: number, now: number): Promise<number> {
  if (rule.window === 'sliding') return store.slidingWindow(key, now, seconds * 1000, 0);
  const v = await store.get(key);
  return v ? Number(v.value) || 0 : 0;
}

async function addTo(store: StateStore, rule: RateRule, key: string, seconds: number, now: number, weight: number): Promise<void> {
  if (rule.window === 'sliding') await store.slidingWindow(key, now, seconds * 1000, weight);
  else await store.increment(key, weight, seconds * 1000);
}

/** applyRules - runs the $mxguard_rate_limits rules of one metric for an event of `weight`. */
export async function applyRules(store: StateStore, cfg: Config, metric: RuleMetric, s: LimitSubject, weight: number, mode: RuleMode,
  opts: { now?: number; exemptClient?: boolean } = {}): Promise<LimitVerdict | undefined> {
  const now = opts.now ?? Date.now();
  const todo: { rule: RateRule; key: string; seconds: number }[] = [];
  const seen = new Set<string>();
  for (const rule of rulesOf(cfg)) {
    if (rule.metric !== metric) continue;
    // $smtpd_client_event_limit_exceptions exempts a client, not the account or sender it uses.
    if (opts.exemptClient && rule.key === 'client_address') continue;
    const value = keyValue(rule.key, s);
    if (value === undefined) continue;
    for (const w of rule.windows) {
      const key = ruleStoreKey(rule, value, w.seconds);
      if (mode !== 'record') {
        const total = await windowTotal(store, rule, key, w.seconds, now);
        const need = mode === 'check' ? Math.max(weight, 1) : weight;
        if (total + need > w.limit) {
          return {
            reply: ruleReply(cfg, rule, value),
            log: `Rate limit exceeded: ${total + need} ${metric} per ${formatWindow(w.seconds)} (limit ${w.limit}) for ${rule.key}=${value} from ${s.clientLog} for service ${s.service}; rule "${rule.text}"`,
          };
        }
      }
      if (!seen.has(key)) { seen.add(key); todo.push({ rule, key, seconds: w.seconds }); }
    }
  }
  if (mode !== 'check' && weight > 0) for (const t of todo) await addTo(store, t.rule, t.key, t.seconds, now, weight);
  return undefined;
}
