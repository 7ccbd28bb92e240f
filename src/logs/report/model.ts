/**
 * @module logs/report/model
 * What `mxguard logs report` knows after one pass over the logs. The collector fills it; the text,
 * JSON and HTML renderers only read it. JSON output is this object as is, so its field names are
 * part of the interface: add fields, do not rename them.
 *
 * The first part mirrors pflogsumm's sections (same counting rules, so grand totals agree; where
 * mxguard counts differently on purpose, docs/logs-report.md says so). The second part is what pflogsumm
 * lacks: greylisting and policy outcomes, SASL per user, TLS, postscreen.
 */

/** A counted key (an address, a domain, a client) — lists are sorted by the count, descending. */
export interface Counted {
  readonly key: string;
  readonly count: number;
}

/** A counted key with a byte total (senders/recipients by size, received by domain). */
export interface Sized {
  readonly key: string;
  readonly count: number;
  readonly bytes: number;
}

/** One row of a traffic table (per day or per hour). */
export interface TrafficRow {
  /** `YYYY-MM-DD` for a day, `HH` (00-23) for an hour. */
  readonly period: string;
  readonly received: number;
  readonly delivered: number;
  readonly deferred: number;
  readonly bounced: number;
  /** Rejects plus reject warnings, holds and discards, as pflogsumm counts its "rejected" column. */
  readonly rejected: number;
}

/** Host/Domain Summary: Message Delivery (pflogsumm section 5). */
export interface DeliveryDomain {
  readonly domain: string;
  readonly sent: number;
  readonly bytes: number;
  readonly defers: number;
  /** Seconds. */
  readonly avgDelay: number;
  readonly maxDelay: number;
}

/**
 * A detail section (deferrals, bounces, rejects, warnings, …): groups (delivery agent, SMTP stage,
 * program), then reasons, then the keys (recipient, client, sender) with counts.
 */
export interface DetailGroup {
  readonly group: string;
  readonly count: number;
  readonly reasons: ReadonlyArray<{ readonly reason: string; readonly count: number; readonly keys: readonly Counted[] }>;
}

export interface GrandTotals {
  readonly received: number;
  readonly delivered: number;
  readonly forwarded: number;
  /** Distinct queue ids deferred at least once. */
  readonly deferred: number;
  /** Deferral lines. */
  readonly deferrals: number;
  readonly bounced: number;
  readonly rejected: number;
  /** rejected / (delivered + rejected + discarded), in percent, rounded down like pflogsumm. */
  readonly rejectedPercent: number;
  readonly rejectWarnings: number;
  readonly held: number;
  readonly discarded: number;
  readonly discardedPercent: number;
  readonly bytesReceived: number;
  readonly bytesDelivered: number;
  readonly senders: number;
  readonly sendingDomains: number;
  readonly recipients: number;
  readonly recipientDomains: number;
}

export interface SmtpdStats {
  readonly connections: number;
  readonly hosts: number;
  /** Seconds. */
  readonly totalConnectTime: number;
  readonly avgConnectTime: number;
  /** Rows of days / hours with connections; `maxSeconds` is the longest connection (pflogsumm's "max. time"). */
  readonly perDay: ReadonlyArray<{ readonly period: string; readonly connections: number; readonly seconds: number; readonly maxSeconds?: number }>;
  readonly perHour: ReadonlyArray<{ readonly period: string; readonly connections: number; readonly seconds: number; readonly maxSeconds?: number }>;
  readonly byHost: ReadonlyArray<{ readonly key: string; readonly connections: number; readonly seconds: number; readonly maxSeconds: number }>;
}

export interface GreylistStats {
  /** Greylist deferrals seen (postgrey `action=greylist`, mxguard greylist, smtpd 450 "Greylisted"). */
  readonly greylisted: number;
  /** Passes after the delay (`reason=triplet found` with a delay, or the mxguard equivalent). */
  readonly passedAfterDelay: number;
  /** Passes by whitelist or auto-whitelist. */
  readonly whitelisted: number;
  /** Distinct triplets greylisted that never passed within the logs (likely spam that never retried). */
  readonly neverRetried: number;
  readonly byReason: readonly Counted[];
  readonly topClients: readonly Counted[];
  /** Seconds between first greylist and pass (median), when both are seen. */
  readonly medianDelay?: number;
}

export interface PolicyStats {
  /** Per policy program (postgrey, policyd-spf, postfwd, mxguard policy, …): actions and counts. */
  readonly byService: ReadonlyArray<{ readonly service: string; readonly actions: readonly Counted[] }>;
  /** SPF results from policyd-spf / Received-SPF lines: Pass, Fail, Softfail, None, … */
  readonly spf: readonly Counted[];
}

export interface SaslStats {
  readonly logins: number;
  readonly failures: number;
  readonly byUser: ReadonlyArray<{ readonly user: string; readonly messages: number; readonly clients: number; readonly methods: readonly string[] }>;
  readonly failuresByClient: readonly Counted[];
  readonly failuresByMethod: readonly Counted[];
}

export interface TlsStats {
  /** smtpd `TLS connection established from`: inbound. */
  readonly inbound: number;
  /** smtp `TLS connection established to`: outbound. */
  readonly outbound: number;
  /** By trust level (Anonymous, Trusted, Verified, Untrusted). */
  readonly byLevel: readonly Counted[];
  readonly byProtocol: readonly Counted[];
  readonly byCipher: readonly Counted[];
  /** smtpd connections (from `connect from`) and the share that used TLS. */
  readonly inboundConnections: number;
}

export interface PostscreenStats {
  readonly connects: number;
  readonly passNew: number;
  readonly passOld: number;
  readonly rejected: number;
  /** PREGREET, HANGUP, DNSBL, BARE NEWLINE, COMMAND PIPELINING, NON-SMTP COMMAND, … */
  readonly byEvent: readonly Counted[];
  readonly dnsblSites: readonly Counted[];
  readonly topClients: readonly Counted[];
}

export interface ReportData {
  /** When the report was made (ISO 8601). */
  readonly generated: string;
  /** Host names seen in the logs. */
  readonly hosts: readonly string[];
  readonly input: {
    readonly files: readonly string[];
    readonly lines: number;
    readonly parsed: number;
    readonly unparsed: number;
    /** Lines outside --since/--until or -d. */
    readonly outside: number;
    /** ISO times of the first and last line reported on. */
    readonly first?: string;
    readonly last?: string;
    readonly since?: string;
    readonly until?: string;
  };
  readonly totals: GrandTotals;
  readonly perDay: readonly TrafficRow[];
  /** 24 rows; daily averages (rounded) when the logs span more than one day. */
  readonly perHour: readonly TrafficRow[];
  readonly perHourIsAverage: boolean;
  readonly deliveryDomains: readonly DeliveryDomain[];
  readonly receivedDomains: readonly Sized[];
  readonly sendersByCount: readonly Counted[];
  readonly recipientsByCount: readonly Counted[];
  readonly sendersBySize: readonly Sized[];
  readonly recipientsBySize: readonly Sized[];
  /** Queue ids delivered whose size line was never seen. */
  readonly noSizeData: readonly string[];
  readonly smtpd: SmtpdStats;
  readonly deferrals: readonly DetailGroup[];
  readonly bounces: readonly DetailGroup[];
  readonly rejects: readonly DetailGroup[];
  readonly rejectWarnings: readonly DetailGroup[];
  readonly holds: readonly DetailGroup[];
  readonly discards: readonly DetailGroup[];
  readonly smtpFailures: readonly DetailGroup[];
  readonly warnings: readonly DetailGroup[];
  readonly fatals: readonly DetailGroup[];
  readonly panics: readonly DetailGroup[];
  readonly masterMessages: readonly Counted[];
  // Beyond pflogsumm.
  readonly greylist: GreylistStats;
  readonly policy: PolicyStats;
  readonly sasl: SaslStats;
  readonly tls: TlsStats;
  readonly postscreen: PostscreenStats;
  /** Rejects by short reason (Relay access denied, blocked using zen…, User unknown, …) for the chart. */
  readonly rejectsByReason: readonly Counted[];
  /** Clients by connections, with their rejects, for the chart and the "top clients" table. */
  readonly topClients: ReadonlyArray<{ readonly key: string; readonly connections: number; readonly messages: number; readonly rejects: number }>;
  // Added by the collector (optional for hand-built data).
  /** `noSizeData` with the recipient of each (pflogsumm prints both); at most 1000 rows. */
  readonly noSizeDataRows?: ReadonlyArray<{ readonly id: string; readonly address: string }>;
  /** How the numbers were counted, and where memory caps made them approximate. */
  readonly counting?: {
    /** true: pflogsumm 1.1.5's program-name and reject rules exactly (--pflogsumm-compat). */
    readonly pflogsummCompat: boolean;
    /** Days seen (pflogsumm's day count: per-hour numbers are averages over it when > 1). */
    readonly days: number;
    /** Postfix-program lines no rule recognised (listed by --strict). */
    readonly notUnderstood: number;
    /** Lines of other programs (not Postfix, not a known policy service): skipped. */
    readonly otherPrograms: number;
    /** Queue ids dropped from the in-flight table because it was full (their `removed` line never came). */
    readonly inFlightEvicted: number;
    /** Tables that reached their cap, so their long tail (and distinct counts) are approximate. */
    readonly approximate: readonly string[];
  };
}

/** Options that shape a report (pflogsumm's, under the same names where they exist). */
export interface ReportOptions {
  /** Top N rows of host/domain tables (`-h`); undefined = all. */
  readonly topHosts?: number;
  /** Top N rows of user tables (`-u`); undefined = all. */
  readonly topUsers?: number;
  /** Rows of each detail section (`--detail`); undefined = all, 0 = none. */
  readonly detail?: number;
  /** Lower-case whole addresses (`-i`); by default only the domain part is lower-cased. */
  readonly ignoreCase?: boolean;
  /** Problems (deferrals, bounces, rejects, warnings) right after the grand totals. */
  readonly problemsFirst?: boolean;
  // Added with the collector and the text renderer (pflogsumm's names where it has them).
  /** Count exactly as pflogsumm 1.1.5 does: only its program names, no smtpd milter-reject (docs/logs-report.md). */
  readonly pflogsummCompat?: boolean;
  /** More syslog names taken as Postfix's (pflogsumm's --syslog-name); `postfix` always is. */
  readonly syslogNames?: readonly string[];
  /** Full reasons in detail sections, not pflogsumm's shortened ones (`--verbose-msg-detail`). */
  readonly verboseMsgDetail?: boolean;
  /** Append the sender to client keys of reject details (`--rej-add-from`). */
  readonly rejAddFrom?: boolean;
  /** Fold VERP sender addresses (`--verp-mung[=2]`): 1 replaces their numbers with ID, 2 also drops the recipient part. */
  readonly verpMung?: number;
  /** List every day seen in the per-day table, even with nothing counted (`--zero-fill`). */
  readonly zeroFill?: boolean;
  /** Per-section detail rows (`--bounce-detail` …); each defaults to `detail`. */
  readonly bounceDetail?: number;
  readonly deferralDetail?: number;
  readonly rejectDetail?: number;
  readonly smtpDetail?: number;
  readonly smtpdWarningDetail?: number;
  /** Text: the smtpd connection sections (`--smtpd-stats`); JSON and HTML always have the numbers. */
  readonly smtpdStats?: boolean;
  /** Text: leave out sections that are empty (`-q`). */
  readonly quiet?: boolean;
  /** Text: `YYYY-MM-DD` and `HH:00-HH:00` instead of `Mon DD YYYY` and `HH00-HH00` (`--iso-date-time`). */
  readonly isoDateTime?: boolean;
  /** Text: heading line, as pflogsumm's `Postfix log summaries for <date>` with -d. */
  readonly title?: string;
  /**
   * Collect only what the text report shows: no top clients, no rejects by reason, and smtpd
   * connection times only with `smtpdStats` (those fields stay empty). Set for `--format text`.
   */
  readonly lean?: boolean;
}
