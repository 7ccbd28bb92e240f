/**
 * @module logs/detect/options
 * The thresholds of every detector, their defaults, and the `N/DURATION` form they are written in
 * on the command line. docs/logs-detect.md explains each default; keep the two in step.
 */
import { parseTime } from '../../config/values.js';

/** "N events within WINDOW". */
export interface Rate {
  readonly count: number;
  readonly windowMs: number;
  /** As written (`5/10m`), for summaries. */
  readonly text: string;
}

export interface DetectOptions {
  /** SASL account: distinct public networks (/16, /32) within accountWindowMs. */
  readonly accountNetworks: number;
  /** SASL account: distinct public addresses within accountWindowMs. */
  readonly accountIps: number;
  readonly accountWindowMs: number;
  /** SASL account: messages in one clock hour that count as a burst whatever the history. */
  readonly accountRate: number;
  /** SASL account: a burst hour is also at least this many times the account's median hour. */
  readonly accountFactor: number;

  /** Messages through pickup per uid. */
  readonly pickupRate: Rate;
  /** uids of web servers (33 www-data on Debian/Ubuntu, 48 apache on RHEL, 80 www on FreeBSD). */
  readonly webUids: readonly number[];
  /** A web uid's mail to this many distinct outside recipients is a finding even without bounces. */
  readonly webRecipients: number;

  /** Failed AUTH attempts per client address. */
  readonly authFailures: Rate;
  /** Failed AUTH attempts per /24 (IPv6 /64), from two addresses or more. */
  readonly authNetwork: Rate;
  /** Sessions that failed or dropped AUTH, server-wide, from at least authFloodAddresses addresses. */
  readonly authFlood: Rate;
  readonly authFloodAddresses: number;

  /** Sessions with a 5xx reject per client address. */
  readonly rejects: Rate;

  /** Non-delivery notifications to senders in domains we do not host. */
  readonly backscatter: Rate;
  /** Incoming messages with the null sender from outside. */
  readonly nullSender: Rate;
  /** Domains we host, besides those learned from the log. */
  readonly localDomains: readonly string[];

  /** Share (0..1) of an hour's clients that one DNS list lists, to call it "answers for everyone". */
  readonly dnsblShare: number;
  /** ... counted only in hours with at least this many distinct clients. */
  readonly dnsblMinClients: number;
  /** Listings expected (at the list's earlier rate) but missing after its last listing. */
  readonly dnsblSilence: number;
  /** Lookup errors of one list. */
  readonly dnsblErrors: number;

  /** Evidence lines per finding. */
  readonly evidence: number;
  /** Keys (addresses, accounts, uids, …) each detector remembers; the least recently seen go first. */
  readonly maxKeys: number;
}

export const DEFAULTS = {
  accountNetworks: 5,
  accountIps: 20,
  accountWindow: '24h',
  accountRate: 50,
  accountFactor: 10,
  pickupRate: '100/1h',
  webUids: '33,48,80',
  webRecipients: 20,
  authFailures: '5/10m',
  authNetwork: '10/1h',
  authFlood: '5/1m',
  authFloodAddresses: 3,
  rejects: '5/1h',
  backscatter: '30/1h',
  nullSender: '100/1h',
  dnsblShare: 90,
  dnsblMinClients: 20,
  dnsblSilence: 10,
  dnsblErrors: 5,
  evidence: 6,
  maxKeys: 10_000,
} as const;

/** parseDuration - `10m`, `1h`, `90s`, `2d` (a bare number is seconds) in ms. */
export function parseDuration(value: string, what: string): number {
  const s = parseTime(value);
  if (s === undefined || s <= 0) throw new Error(`${what} ${value}: expected a duration such as 90s, 10m, 1h, 2d`);
  return s * 1000;
}

/** parseRate - `N/DURATION` (`5/10m`): N events within DURATION. */
export function parseRate(value: string, what: string): Rate {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(value);
  if (!m || Number(m[1]) < 1) throw new Error(`${what} ${value}: expected COUNT/DURATION such as 5/10m`);
  return { count: Number(m[1]), windowMs: parseDuration(m[2]!, what), text: `${m[1]}/${m[2]}` };
}

/** parseCount - a whole number ≥ min. */
export function parseCount(value: string | number, what: string, min = 1): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} ${value}: expected a whole number of at least ${min}`);
  return n;
}

/** The flags as commander hands them over (strings, or numbers/arrays for defaults). */
export interface ThresholdFlags {
  accountNetworks?: string | number;
  accountIps?: string | number;
  accountWindow?: string;
  accountRate?: string | number;
  accountFactor?: string | number;
  pickupRate?: string;
  webUids?: string;
  webRecipients?: string | number;
  authFailures?: string;
  authNetwork?: string;
  authFlood?: string;
  authFloodAddresses?: string | number;
  rejects?: string;
  backscatter?: string;
  nullSender?: string;
  localDomain?: string[];
  dnsblShare?: string | number;
  dnsblMinClients?: string | number;
  dnsblSilence?: string | number;
  dnsblErrors?: string | number;
  evidence?: string | number;
  maxKeys?: string | number;
}

/** detectOptions - checked thresholds from the flags, defaults where a flag is absent. */
export function detectOptions(f: ThresholdFlags = {}): DetectOptions {
  const share = Number(f.dnsblShare ?? DEFAULTS.dnsblShare);
  if (!(share > 0 && share <= 100)) throw new Error(`--dnsbl-share ${f.dnsblShare}: expected a percentage between 1 and 100`);
  const factor = Number(f.accountFactor ?? DEFAULTS.accountFactor);
  if (!(factor >= 1)) throw new Error(`--account-factor ${f.accountFactor}: expected a number of at least 1`);
  const uids = String(f.webUids ?? DEFAULTS.webUids).split(',').map((s) => s.trim()).filter(Boolean);
  for (const u of uids) if (!/^\d+$/.test(u)) throw new Error(`--web-uids ${f.webUids}: expected uids separated by commas`);
  return {
    accountNetworks: parseCount(f.accountNetworks ?? DEFAULTS.accountNetworks, '--account-networks', 2),
    accountIps: parseCount(f.accountIps ?? DEFAULTS.accountIps, '--account-ips', 2),
    accountWindowMs: parseDuration(f.accountWindow ?? DEFAULTS.accountWindow, '--account-window'),
    accountRate: parseCount(f.accountRate ?? DEFAULTS.accountRate, '--account-rate'),
    accountFactor: factor,
    pickupRate: parseRate(f.pickupRate ?? DEFAULTS.pickupRate, '--pickup-rate'),
    webUids: uids.map(Number),
    webRecipients: parseCount(f.webRecipients ?? DEFAULTS.webRecipients, '--web-recipients'),
    authFailures: parseRate(f.authFailures ?? DEFAULTS.authFailures, '--auth-failures'),
    authNetwork: parseRate(f.authNetwork ?? DEFAULTS.authNetwork, '--auth-network'),
    authFlood: parseRate(f.authFlood ?? DEFAULTS.authFlood, '--auth-flood'),
    authFloodAddresses: parseCount(f.authFloodAddresses ?? DEFAULTS.authFloodAddresses, '--auth-flood-addresses'),
    rejects: parseRate(f.rejects ?? DEFAULTS.rejects, '--rejects'),
    backscatter: parseRate(f.backscatter ?? DEFAULTS.backscatter, '--backscatter'),
    nullSender: parseRate(f.nullSender ?? DEFAULTS.nullSender, '--null-sender'),
    localDomains: (f.localDomain ?? []).map((d) => d.trim().toLowerCase()).filter(Boolean),
    dnsblShare: share / 100,
    dnsblMinClients: parseCount(f.dnsblMinClients ?? DEFAULTS.dnsblMinClients, '--dnsbl-min-clients'),
    dnsblSilence: parseCount(f.dnsblSilence ?? DEFAULTS.dnsblSilence, '--dnsbl-silence'),
    dnsblErrors: parseCount(f.dnsblErrors ?? DEFAULTS.dnsblErrors, '--dnsbl-errors'),
    evidence: parseCount(f.evidence ?? DEFAULTS.evidence, '--evidence'),
    maxKeys: parseCount(f.maxKeys ?? DEFAULTS.maxKeys, '--max-keys', 100),
  };
}
