/**
 * @module logs/report/rules
 * How pflogsumm 1.1.5 (Debian 1.1.5-8) turns a classified line into table keys: the client's
 * "host/domain", the short reject/deferral/bounce reasons, address case, the sort order of its
 * lists. Written from reading its source; the rules are restated here in our own code so that
 * `mxguard logs report` groups and names things as pflogsumm does and people can compare.
 *
 * Everything here runs on lines already classified by the collector, so regular expressions are
 * fine: none of these functions sees every line.
 */

/** Options that change keys, as pflogsumm's -i and --verbose-msg-detail do. */
export interface KeyOptions {
  readonly ignoreCase: boolean;
  readonly verbose: boolean;
  /** --verp-mung level (0: off); see verpMung(). */
  readonly verpMung?: number;
  /** Reproduce pflogsumm's two grouping bugs too (deferral reasons, verbose reject keys). */
  readonly compat?: boolean;
}

/**
 * normAddress - pflogsumm lower-cases the part from the first `@` on (domains are case-blind);
 * with -i the whole address.
 */
export function normAddress(addr: string, ignoreCase: boolean): string {
  const at = ignoreCase ? 0 : addr.indexOf('@');
  if (at < 0) return addr;
  // Most addresses are lower case already: look before building a new string.
  for (let i = at; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return ignoreCase ? addr.toLowerCase() : addr.slice(0, at) + addr.slice(at).toLowerCase();
  }
  return addr;
}

/**
 * VERP senders (one address per recipient or per message, Variable Envelope Return Path) fill the
 * sender tables with one row each. pflogsumm's --verp-mung folds them, and so do we, by its rules:
 * level 1 replaces the numbers after a `bounce`, `return`, `sentto`, `noreply`… or numeric prefix
 * with `-ID` (`list-return-12-joe=x.org@lists.y` → `list-return-ID-joe=x.org@lists.y`); level 2
 * also drops the encoded recipient (`list-return-ID@lists.y`).
 */
const VERP_NUMBERS_RE = /((?:bounce[ds]?|no(?:list|reply|response)|return|sentto|\d+).*?)(?:[+_.*-]\d+\b)+/i;
const VERP_RECIPIENT_RE = /[*-](\d+[*-])?[^=*-]+[=*][^@]+@/;

/** verpMung - `addr` folded at --verp-mung `level` (0: unchanged). */
export function verpMung(addr: string, level: number): string {
  if (!level) return addr;
  const a = addr.replace(VERP_NUMBERS_RE, '$1-ID');
  return level > 1 ? a.replace(VERP_RECIPIENT_RE, '@') : a;
}

/** addressDomain - the part after the first `@` when there is a local part; else the whole. */
export function addressDomain(addr: string): string {
  const at = addr.indexOf('@');
  return at > 0 ? addr.slice(at + 1) : addr;
}

const OLD_SLASH = /^([^/]*)\/([0-9a-f.:]+)/i;
const ANY_BRACKET = /^([^[(/]*)[[(/]([^\])]+)[\])]:?\d*$/;

/**
 * clientDomain - pflogsumm's host/domain of a client `name[ip]` (also the old `name/ip` form):
 * the name reduced to its last two labels (three for `xx.cc`-style domains, lower-cased only
 * then), or the IP address when the name is `unknown` or empty. IPv6 is taken as written.
 */
export function clientDomain(client: string): string {
  // The common form `name[a.b.c.d]` by hand; anything else by pflogsumm's patterns.
  const b = client.indexOf('[');
  let name: string;
  let ip: string;
  if (b >= 0 && isDottedQuadAt(client, b + 1)) {
    name = client.slice(0, b);
    ip = client.slice(b + 1, client.indexOf(']', b));
  } else {
    const m = OLD_SLASH.exec(client) ?? ANY_BRACKET.exec(client);
    if (!m) return '';
    name = m[1]!;
    ip = m[2]!;
  }
  return name === '' || name === 'unknown' ? ip : reduceName(name);
}

/** isDottedQuadAt - `s` has `d{1,3}.d{1,3}.d{1,3}.d{1,3}]` at `i`. */
function isDottedQuadAt(s: string, i: number): boolean {
  for (let part = 0; part < 4; part++) {
    let digits = 0;
    while (digits < 4) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      i++;
      digits++;
    }
    if (digits === 0 || digits > 3) return false;
    if (s.charCodeAt(i) !== (part < 3 ? 46 /* . */ : 93 /* ] */)) return false;
    i++;
  }
  return true;
}

/**
 * reduceName - `mail.example.com` → `example.com`, `mx.example.co.uk` → `example.co.uk` (lower
 * case), anything else unchanged: the rule of pflogsumm's pattern
 * `^(.*)\.([^.]+)\.([^.]{3}|[^.]{2,3}\.[^.]{2})$`, where the longest `(.*)` wins.
 */
export function reduceName(name: string): string {
  const d1 = name.lastIndexOf('.');
  if (d1 < 0) return name;
  const d2 = name.lastIndexOf('.', d1 - 1);
  if (d2 < 0 || d1 - d2 < 2) return name;
  const last = name.length - d1 - 1;
  if (last === 3) return name.slice(d2 + 1).toLowerCase();
  const mid = d1 - d2 - 1;
  if (last === 2 && (mid === 2 || mid === 3) && d2 > 0) {
    const d3 = name.lastIndexOf('.', d2 - 1);
    if (d3 >= 0 && d2 - d3 >= 2) return name.slice(d3 + 1).toLowerCase();
  }
  return name;
}

/** trim - cut to `max` characters with an ellipsis (pflogsumm shows 63 + "..." of 66). */
export function trim(s: string, max: number, verbose: boolean): string {
  return !verbose && s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * saidTrim - shortens a remote server's answer: first drops everything up to `said: `, then
 * leading `something: ` parts, then cuts (pflogsumm's rule for deferral and bounce reasons).
 */
export function saidTrim(s: string, max: number): string {
  while (s.length > max) {
    const said = s.lastIndexOf(' said: ');
    if (said >= 0) {
      s = s.slice(said + 7);
      continue;
    }
    const colon = s.indexOf(':');
    if (colon >= 0) {
      s = s.slice(colon + 1).replace(/^ +/, '');
      continue;
    }
    return `${s.slice(0, max - 3)}...`;
  }
  return s;
}

/**
 * deferralReason - the short reason of `status=deferred (…)`. pflogsumm's capture stops at the first
 * `)`, so "(in reply to RCPT TO command)" loses its `)` and a reason with parentheses inside is cut
 * short: we take up to the last `)` of the line, as pflogsumm does for bounces (`compat`: its way).
 */
export function deferralReason(rest: string, verbose: boolean, compat = false): string {
  const open = rest.indexOf('status=deferred (');
  if (open < 0) return '';
  const from = open + 17;
  const close = compat ? rest.indexOf(')', from) : rest.lastIndexOf(')');
  let r = rest.slice(from, close < from ? rest.length : close);
  if (r === '') return '';
  if (verbose) return r;
  r = saidTrim(r, 65);
  r = r.replace(/^\d{3} /, '');
  return r.startsWith('connect to ') ? r.slice(11) : r;
}

/** bounceReason - the short reason of `status=bounced (…)`: up to the last `)`. */
export function bounceReason(rest: string, verbose: boolean): string {
  const m = /, status=bounced \((.+)\)/.exec(rest);
  if (!m) return '';
  if (verbose) return m[1]!;
  return saidTrim(m[1]!, 66).replace(/^\d{3} /, '');
}

/** One smtpd-style reject (reject, reject_warning, hold, discard) as pflogsumm files it. */
export interface RejectKey {
  /** SMTP stage: RCPT, MAIL, CONNECT, HELO, DATA, END-OF-MESSAGE, … */
  readonly stage: string;
  readonly reason: string;
  /** Recipient, sender or client host/domain, depending on the reason. */
  readonly key: string;
  /** The client as logged (`name[ip]`). */
  readonly client: string;
}

// pflogsumm's pattern (its greedy start takes the last keyword); `milter-reject:` is ours.
const REJECT_LINE = /^(?:.* |.*milter-)?(?:reject(?:_warning)?|hold|discard): (\S+) from (\S+?): (.*)$/;
const LATER_KEYWORDS = [' reject', ' reject_warning', ' hold', ' discard'];

/** laterKeyword - is there a ` reject: `, ` reject_warning: `, ` hold: `, ` discard: ` after `from`? */
function laterKeyword(text: string, from: number): boolean {
  // One pass over the `: `s of the rest of the line, looking at the word before each.
  for (let i = text.indexOf(': ', from); i >= 0; i = text.indexOf(': ', i + 2)) {
    for (const k of LATER_KEYWORDS) if (i >= k.length && text.startsWith(k, i - k.length)) return true;
  }
  return false;
}

/**
 * rejectKey - pflogsumm's (stage, reason, key) of a `reject:`-style line. `text` is the line
 * after the program tag, `at` where the keyword (`reject`, `milter-reject`, …) starts and `kw` its
 * length. `rejAddFrom` appends the sender like --rej-add-from.
 *
 * pflogsumm takes `KEYWORD: STAGE from CLIENT: REST` with one regular expression whose greedy
 * start picks the last keyword in the line; the common case (one keyword) is cut by hand here, and
 * a line with another keyword later goes through that expression.
 */
export function rejectKey(text: string, at: number, kw: number, o: KeyOptions, rejAddFrom = false): RejectKey {
  let stage = '';
  let client = '';
  let rest = '';
  let cut = false;
  const s0 = at + kw + 2;
  if (!laterKeyword(text, s0)) {
    const sp = text.indexOf(' ', s0);
    if (sp > s0 && text.startsWith('from ', sp + 1)) {
      const c0 = sp + 6;
      const colon = text.indexOf(': ', c0);
      const blank = text.indexOf(' ', c0);
      if (colon > c0 && (blank < 0 || blank > colon)) {
        stage = text.slice(s0, sp);
        client = text.slice(c0, colon);
        rest = text.slice(colon + 2);
        cut = true;
      }
    }
  }
  if (!cut) {
    const m = REJECT_LINE.exec(text);
    stage = m?.[1] ?? '';
    client = m?.[2] ?? '';
    rest = m?.[3] ?? '';
  }
  const short = shortReason(stage, rest);
  const reason = o.verbose ? rest : short;
  // The key (sender, recipient or client) follows from the kind of reason. pflogsumm decides on
  // the reason it shows, so with --verbose-msg-detail its recipient rejects list clients: we
  // decide on the short reason (`compat`: its way).
  const kind = o.verbose && o.compat ? reason : short;
  let from = bracketed(rest, 'from=<') ?? '<>';
  // pflogsumm folds VERP before lower-casing here.
  if (o.verpMung) from = verpMung(from, o.verpMung);
  if (o.ignoreCase) from = from.toLowerCase();
  const withFrom = (k: string): string => (rejAddFrom ? `${k}  (${from})` : k);
  if (kind.startsWith('Sender address rejected:')) return { stage, reason, key: from, client };
  if (kind.startsWith('Recipient address rejected:') || /^User unknown(?: |$)/.test(kind)) {
    let to = bracketed(rest, 'to=<')
      ?? /\d{3} <([^>]+)>: User unknown /.exec(rest)?.[1]
      ?? /to=<(.*?)(?:[, ]|$)/.exec(rest)?.[1]
      ?? '<>';
    if (o.ignoreCase) to = to.toLowerCase();
    return { stage, reason, key: withFrom(to), client };
  }
  if (reason.includes(' Improper use of SMTP command pipelining;')) {
    const mm = /^.*?\d{3} (Improper use of SMTP command pipelining);.*$/.exec(reason);
    if (mm) return { stage, reason: mm[1]!, key: / from (\S+?):/.exec(text)?.[1] ?? '', client };
  }
  if (reason.includes(' Message size exceeds fixed limit;')) {
    const mm = /^.*?\d{3} (Message size exceeds fixed limit);.*$/.exec(reason);
    if (mm) return { stage, reason: mm[1]!, key: withFrom(clientDomain(client)), client };
  }
  if (reason.includes(' Server configuration ')) {
    const mm = /^.*?\d{3} (Server configuration (?:error|problem));.*$/.exec(reason);
    if (mm) return { stage, reason: `(Local) ${mm[1]}`, key: withFrom(clientDomain(client)), client };
  }
  return { stage, reason, key: withFrom(clientDomain(client)), client };
}

/** bracketed - the first non-empty `OPEN…>` value of `s` (as `OPEN([^>]+)>`), or undefined. */
export function bracketed(s: string, open: string): string | undefined {
  for (let i = s.indexOf(open); i >= 0; i = s.indexOf(open, i + 1)) {
    const start = i + open.length;
    const end = s.indexOf('>', start);
    if (end < 0) return undefined;
    if (end > start) return s.slice(start, end);
  }
  return undefined;
}

const PROTOCOL_ERROR = /^\d{3} \d\.\d\.\d Protocol error;/;

/** shortReason - the reason pflogsumm shows for a reject of `stage` (without --verbose-msg-detail). */
export function shortReason(stage: string, rest: string): string {
  let r = rest;
  if (stage === 'RCPT' || stage === 'DATA' || stage === 'CONNECT') {
    // pflogsumm's five substitutions, by hand (they run for every reject line):
    // 1. `NNN <anything>:` → `NNN <>:` — an address or HELO name can hold anything.
    if (isCode(r, 0) && r.charCodeAt(3) === 32 && r.charCodeAt(4) === 60 /* < */) {
      const e = r.indexOf('>:', 5);
      if (e >= 0) r = `${r.slice(0, 5)}${r.slice(e)}`;
    }
    // 2. `NNN D.D.D Protocol error; …` → `Protocol error`
    if (PROTOCOL_ERROR.test(r)) r = 'Protocol error';
    // 3. the text after the first `: ` or `; ` (and a `[…] ` after it), up to the next `;` or `,`.
    r = afterSeparator(r);
    // 4. `Sender|Recipient address rejected: X: …` → `… rejected: X`
    for (const p of ['Sender address rejected: ', 'Recipient address rejected: ']) {
      if (r.startsWith(p)) {
        const c = r.indexOf(':', p.length);
        if (c > p.length) r = r.slice(0, c);
        break;
      }
    }
    // 5. `Client host [ip] blocked using …` → `blocked using …`
    if (r.includes(' blocked')) r = r.replace(/(client|Client host|Sender address) .+? blocked/, 'blocked');
  } else if (stage === 'MAIL') {
    r = r.replace(/^\d{3} (?:<.+>: )?([^;:]+)[;:]?.*$/, '$1');
  } else {
    r = r.replace(/^(?:.*[:;] )?([^,]+).*$/, '$1');
  }
  return r;
}

function isCode(s: string, i: number): boolean {
  for (let k = i; k < i + 3; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** afterSeparator - pflogsumm's `s/^(?:.*?[:;] )(?:\[[^\]]+\] )?([^;,]+)[;,].*$/$1/`. */
function afterSeparator(r: string): string {
  for (let i = 0; i < r.length - 1; i++) {
    const c = r.charCodeAt(i);
    if ((c !== 58 && c !== 59) || r.charCodeAt(i + 1) !== 32) continue;
    const j = i + 2;
    // The optional `[…] ` (a client address): with it first, then without.
    if (r.charCodeAt(j) === 91 /* [ */) {
      const close = r.indexOf(']', j + 1);
      if (close > j + 1 && r.charCodeAt(close + 1) === 32) {
        const got = upToSeparator(r, close + 2);
        if (got !== undefined) return got;
      }
    }
    const got = upToSeparator(r, j);
    if (got !== undefined) return got;
  }
  return r;
}

/** upToSeparator - `[^;,]+` from `j`, when a `;` or `,` follows it. */
function upToSeparator(r: string, j: number): string | undefined {
  for (let k = j; k < r.length; k++) {
    const c = r.charCodeAt(k);
    if (c === 59 || c === 44) return k > j ? r.slice(j, k) : undefined;
  }
  return undefined;
}

/** A cleanup header/body check line: `reject|warning|hold|discard: header|body|END-OF-MESSAGE …`. */
export interface CleanupCheck {
  readonly action: 'reject' | 'milter-reject' | 'warning' | 'hold' | 'discard';
  readonly part: string;
  readonly detail: string;
}

const CLEANUP_CHECK = /\b((?:milter-)?reject|warning|hold|discard): (header|body|END-OF-MESSAGE) (.*)$/;

/** cleanupCheck - a cleanup(8) header/body/milter check result, or undefined. */
export function cleanupCheck(text: string, verbose: boolean): CleanupCheck | undefined {
  const m = CLEANUP_CHECK.exec(text);
  if (!m) return undefined;
  let detail = m[3]!;
  if (!verbose) detail = detail.replace(/(?: from \S+?)?; from=<.*$/, '');
  return { action: m[1] as CleanupCheck['action'], part: m[2]!, detail: trim(detail, 64, verbose) };
}

/** smtpConnectFailure - `connect to HOST[IP]:PORT: reason` of smtp(8), as (reason, host). */
export function smtpConnectFailure(text: string, modern: boolean): { reason: string; host: string } | undefined {
  // The two forms pflogsumm 1.1.5 knows (Postfix before 2.3):
  let m = /.* connect to (\S+?): ([^;]+); address \S+ port.*$/.exec(` ${text}`);
  if (m) return { reason: m[2]!.toLowerCase(), host: m[1]! };
  m = /.* connect to ([^[]+)\[\S+?\]: (.+?) \(port \d+\)$/.exec(` ${text}`);
  if (m) return { reason: m[2]!.toLowerCase(), host: m[1]! };
  if (!modern) return undefined;
  // Postfix 2.3 and later: `connect to mx.example.com[192.0.2.1]:25: Connection timed out`.
  m = /^connect to ([^[\s]+)\[[^\]]*\](?::\d+)?: (.+)$/.exec(text);
  if (m) return { reason: m[2]!.toLowerCase(), host: m[1]! };
  return undefined;
}
