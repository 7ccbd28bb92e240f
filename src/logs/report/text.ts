/**
 * @module logs/report/text
 * The text face of `mxguard logs report`: pflogsumm 1.1.5's layout (section titles, order, column
 * widths, `k`/`m` suffixes above 512k and 512m, `top N` titles, `(total: N)` detail groups, "none"
 * for an empty section unless -q), so that people and scripts used to pflogsumm feel at home; then
 * the sections pflogsumm lacks, in the same style.
 *
 * Numbers are formatted as pflogsumm's printf does: integers truncated, not rounded (`%6d`).
 */
import type { Counted, DetailGroup, ReportData, ReportOptions, TrafficRow } from './model.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `%6d%s` with pflogsumm's units: plain up to 512k, then k (1024) up to 512m, then m (1048576). */
export function units(v: number, width = 6): string {
  let value = v || 0;
  let u = ' ';
  if (value > 536_870_912) {
    value /= 1_048_576;
    u = 'm';
  } else if (value > 524_288) {
    value /= 1024;
    u = 'k';
  }
  return `${String(Math.trunc(value)).padStart(width)}${u}`;
}

/** `%5.1f %s` of a delay in seconds, in s, m or h (above 60 s and 3600 s). */
function timeUnits(v: number): string {
  let value = v || 0;
  let u = 's';
  if (value > 3600) {
    value /= 3600;
    u = 'h';
  } else if (value > 60) {
    value /= 60;
    u = 'm';
  }
  return `${value.toFixed(1).padStart(5)} ${u}`;
}

/** `H:MM:SS` of seconds (`%2d:%02d:%02d`). */
function hms(seconds: number): string {
  const s = Math.trunc(seconds);
  const h = Math.trunc(s / 3600);
  const m = Math.trunc((s - h * 3600) / 60);
  const sec = s - h * 3600 - m * 60;
  return `${String(h).padStart(2)}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

const underline = (title: string): string => '-'.repeat(title.length);
/** A top-level section title, underlined. */
const title = (t: string): string => `\n${t}\n${underline(t)}\n`;

/** A limit option: undefined or negative means all. */
const limitOf = (n: number | undefined): number => (n === undefined || n < 0 ? -1 : n);
const cut = <T>(rows: readonly T[], n: number): readonly T[] => (n > 0 ? rows.slice(0, n) : rows);

/** dateLabel - `Nov 27 2026` or `2026-11-27` of a `YYYY-MM-DD` period. */
function dateLabel(period: string, iso: boolean): string {
  if (iso) return `${period} `;
  const [y, m, d] = period.split('-');
  return `${MONTHS[Number(m) - 1]} ${String(Number(d)).padStart(2)} ${y}`;
}

function hourLabel(period: string, iso: boolean): string {
  const h = Number(period);
  const a = String(h).padStart(2, '0');
  const b = String(h + 1).padStart(2, '0');
  return iso ? `${a}:00-${b}:00` : `${a}00-${b}00  `;
}

/** Everything the text renderer needs to know about the options, defaults applied. */
interface Limits {
  readonly hosts: number;
  readonly users: number;
  readonly bounce: number;
  readonly deferral: number;
  readonly reject: number;
  readonly smtp: number;
  readonly warning: number;
  readonly extra: number;
  readonly quiet: boolean;
  readonly iso: boolean;
}

/** limits - pflogsumm's rule: --detail sets every count not given on its own. */
function limits(o: ReportOptions): Limits {
  const d = o.detail;
  const pick = (v: number | undefined): number => limitOf(v ?? d);
  return {
    hosts: pick(o.topHosts),
    users: pick(o.topUsers),
    bounce: pick(o.bounceDetail),
    deferral: pick(o.deferralDetail),
    reject: pick(o.rejectDetail),
    smtp: pick(o.smtpDetail),
    warning: pick(o.smtpdWarningDetail),
    extra: limitOf(d),
    quiet: o.quiet === true,
    iso: o.isoDateTime === true,
  };
}

/** renderText - the whole report as text. */
export function renderText(data: ReportData, opts: ReportOptions = {}): string {
  const out: string[] = [];
  writeText(data, opts, (s) => out.push(s));
  return out.join('');
}

/**
 * writeText - the report as text, handed to `emit` piece by piece (a section, or a line of a long
 * list), so that a report of millions of lines need not be held whole.
 */
export function writeText(data: ReportData, opts: ReportOptions, emit: (s: string) => void): void {
  const L = limits(opts);
  const days = data.counting?.days ?? data.perDay.length;
  if (opts.title) emit(`${opts.title}\n`);
  emit(grandTotals(data));
  if (opts.smtpdStats) emit(smtpdBlock(data));
  emit('\n');
  if (opts.problemsFirst) problems(data, L, emit);
  if (days > 1) emit(perDay(data.perDay, L.iso));
  emit(perHour(data.perHour, data.perHourIsAverage, L.iso));
  deliveryDomains(data, L.hosts, emit);
  receivedDomains(data, L.hosts, emit);
  if (opts.smtpdStats) {
    if (days > 1) emit(smtpdPerDay(data, L.iso));
    emit(smtpdPerHour(data, days, L.iso));
    smtpdByHost(data, L.hosts, emit);
  }
  userList('Senders by message count', data.sendersByCount, 'count', L, emit);
  userList('Recipients by message count', data.recipientsByCount, 'count', L, emit);
  userList('Senders by message size', data.sendersBySize, 'bytes', L, emit);
  userList('Recipients by message size', data.recipientsBySize, 'bytes', L, emit);
  const noSize = data.noSizeDataRows ?? data.noSizeData.map((id) => ({ id, address: '' }));
  if (noSize.length) {
    const t = 'Messages with no size data';
    emit(`\n${t}\n${underline(t)}\n`);
    for (const r of [...noSize].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) emit(` ${r.id}  ${r.address}\n`);
  }
  if (!opts.problemsFirst) problems(data, L, emit);
  emit(extras(data, L));
}

function grandTotals(d: ReportData): string {
  const t = d.totals;
  const line = (v: number, label: string): string => ` ${units(v)}  ${label}\n`;
  return [
    title('Grand Totals'),
    'messages\n\n',
    line(t.received, 'received'),
    line(t.delivered, 'delivered'),
    line(t.forwarded, 'forwarded'),
    ` ${units(t.deferred)}  deferred${t.deferrals ? `  (${units(t.deferrals, 0)} deferrals)` : ''}\n`,
    line(t.bounced, 'bounced'),
    line(t.rejected, `rejected (${t.rejectedPercent}%)`),
    line(t.rejectWarnings, 'reject warnings'),
    line(t.held, 'held'),
    line(t.discarded, `discarded (${t.discardedPercent}%)`),
    '\n',
    line(t.bytesReceived, 'bytes received'),
    line(t.bytesDelivered, 'bytes delivered'),
    line(t.senders, 'senders'),
    line(t.sendingDomains, 'sending hosts/domains'),
    line(t.recipients, 'recipients'),
    line(t.recipientDomains, 'recipient hosts/domains'),
  ].join('');
}

function smtpdBlock(d: ReportData): string {
  const s = d.smtpd;
  return [
    '\nsmtpd\n\n',
    `  ${units(s.connections)}  connections\n`,
    `  ${units(s.hosts)}  hosts/domains\n`,
    `  ${String(Math.trunc(s.connections > 0 ? s.avgConnectTime + 0.5 : 0)).padStart(6)}   avg. connect time (seconds)\n`,
    ` ${hms(s.totalConnectTime)}  total connect time\n`,
  ].join('');
}

const TRAFFIC_HEAD = '    --------------------------------------------------------------------\n';

function trafficValues(r: TrafficRow): string {
  return [r.received, r.delivered, r.deferred, r.bounced, r.rejected].map((v) => `    ${units(v)}`).join('');
}

function perDay(rows: readonly TrafficRow[], iso: boolean): string {
  return [
    title('Per-Day Traffic Summary'),
    '    date          received  delivered   deferred    bounced     rejected\n',
    TRAFFIC_HEAD,
    ...rows.map((r) => `    ${dateLabel(r.period, iso)}${trafficValues(r)}\n`),
  ].join('');
}

function perHour(rows: readonly TrafficRow[], average: boolean, iso: boolean): string {
  return [
    title(`Per-Hour Traffic ${average ? 'Daily Average' : 'Summary'}`),
    '    time          received  delivered   deferred    bounced     rejected\n',
    TRAFFIC_HEAD,
    ...rows.map((r) => `    ${hourLabel(r.period, iso)}${trafficValues(r)}\n`),
  ].join('');
}

function deliveryDomains(d: ReportData, n: number, emit: (s: string) => void): void {
  if (n === 0) return;
  emit(title(`Host/Domain Summary: Message Delivery ${n > 0 ? `(top ${n})` : ''}`));
  emit(' sent cnt  bytes   defers   avg dly max dly host/domain\n');
  emit(' -------- -------  -------  ------- ------- -----------\n');
  for (const r of cut(d.deliveryDomains, n)) {
    emit(` ${units(r.sent)}  ${units(r.bytes)}  ${units(r.defers)}  ${timeUnits(r.avgDelay)}  ${timeUnits(r.maxDelay)}  ${r.domain}\n`);
  }
}

function receivedDomains(d: ReportData, n: number, emit: (s: string) => void): void {
  if (n === 0) return;
  emit(title(`Host/Domain Summary: Messages Received ${n > 0 ? `(top ${n})` : ''}`));
  emit(' msg cnt   bytes   host/domain\n');
  emit(' -------- -------  -----------\n');
  for (const r of cut(d.receivedDomains, n)) emit(` ${units(r.count)}  ${units(r.bytes)}  ${r.key}\n`);
}

function smtpdPerDay(d: ReportData, iso: boolean): string {
  return [
    title('Per-Day SMTPD Connection Summary'),
    '    date        connections    time conn.    avg./conn.   max. time\n',
    TRAFFIC_HEAD,
    ...d.smtpd.perDay.map((r) => `    ${dateLabel(r.period, iso)}   ${units(r.connections)}       ${hms(r.seconds)}      ${String(Math.trunc(r.seconds / r.connections + 0.5)).padStart(6)}s      ${String(r.maxSeconds ?? 0).padStart(6)}s\n`),
  ].join('');
}

function smtpdPerHour(d: ReportData, days: number, iso: boolean): string {
  const avg = days > 1;
  const out = avg
    ? [title('Per-Hour SMTPD Connection Daily Average'), '    hour        connections    time conn.\n', '    -------------------------------------\n']
    : [title('Per-Hour SMTPD Connection Summary'), '    hour        connections    time conn.    avg./conn.   max. time\n', TRAFFIC_HEAD];
  for (const r of d.smtpd.perHour) {
    if (!r.connections) continue;
    const perConn = Math.trunc(r.seconds / r.connections + 0.5);
    const conns = avg ? r.connections / days + 0.5 : r.connections;
    const secs = avg ? r.seconds / days + 0.5 : r.seconds;
    let line = `    ${hourLabel(r.period, iso)}   ${units(conns)}       ${hms(secs)}`;
    if (!avg) line += `      ${String(perConn).padStart(6)}s      ${String(r.maxSeconds ?? 0).padStart(6)}s`;
    out.push(`${line}\n`);
  }
  return out.join('');
}

function smtpdByHost(d: ReportData, n: number, emit: (s: string) => void): void {
  if (n === 0) return;
  emit(title(`Host/Domain Summary: SMTPD Connections ${n > 0 ? `(top ${n})` : ''}`));
  emit(' connections  time conn.  avg./conn.  max. time  host/domain\n');
  emit(' -----------  ----------  ----------  ---------  -----------\n');
  for (const r of cut(d.smtpd.byHost, n)) {
    emit(`  ${units(r.connections)}      ${hms(r.seconds)}     ${String(Math.trunc(r.seconds / r.connections + 0.5)).padStart(6)}s    ${String(r.maxSeconds).padStart(6)}s   ${r.key}\n`);
  }
}

/** A list of counted keys (`print_user_data`): `top N ` title prefix, `: none` when empty. */
function userList(name: string, rows: ReadonlyArray<{ readonly key: string; readonly count: number; readonly bytes?: number }>, by: 'count' | 'bytes', L: Limits, emit: (s: string) => void): void {
  const n = L.users;
  if (n === 0) return;
  const t = `${n > 0 ? `top ${n} ` : ''}${name}`;
  if (!rows.length) {
    if (!L.quiet) emit(`\n${t}: none\n`);
    return;
  }
  emit(`\n${t}\n${underline(t)}\n`);
  for (const r of cut(rows, n)) emit(` ${units(by === 'bytes' ? r.bytes ?? 0 : r.count)}  ${r.key}\n`);
}

/** A detail table (`print_nested_hash`): groups, then reasons (then keys) with totals. */
function nested(name: string, groups: readonly DetailGroup[], n: number, L: Limits, emit: (s: string) => void): void {
  if (!groups.length) {
    if (!L.quiet) emit(`\n${name}: none\n`);
    return;
  }
  emit(`\n${name}\n${underline(name)}\n`);
  const top = n > 0 ? ` (top ${n})` : '';
  for (const g of groups) {
    const twoLevel = g.reasons.every((r) => r.keys.length === 0);
    if (twoLevel) {
      emit(`  ${g.group}${top} (total: ${g.count})\n`);
      for (const r of cut(g.reasons, n)) emit(`    ${units(r.count)}  ${r.reason}\n`);
    } else {
      emit(`  ${g.group}\n`);
      for (const r of g.reasons) {
        emit(`    ${r.reason}${top} (total: ${r.count})\n`);
        for (const k of cut(r.keys, n)) emit(`      ${units(k.count)}  ${k.key}\n`);
      }
    }
  }
}

function problems(d: ReportData, L: Limits, emit: (s: string) => void): void {
  if (L.deferral !== 0) nested('message deferral detail', d.deferrals, L.deferral, L, emit);
  if (L.bounce !== 0) nested('message bounce detail (by relay)', d.bounces, L.bounce, L, emit);
  if (L.reject !== 0) {
    nested('message reject detail', d.rejects, L.reject, L, emit);
    nested('message reject warning detail', d.rejectWarnings, L.reject, L, emit);
    nested('message hold detail', d.holds, L.reject, L, emit);
    nested('message discard detail', d.discards, L.reject, L, emit);
  }
  if (L.smtp !== 0) nested('smtp delivery failures', d.smtpFailures, L.smtp, L, emit);
  if (L.warning !== 0) nested('Warnings', d.warnings, L.warning, L, emit);
  nested('Fatal Errors', d.fatals, -1, L, emit);
  nested('Panics', d.panics, -1, L, emit);
  const t = 'Master daemon messages';
  if (!d.masterMessages.length) {
    if (!L.quiet) emit(`\n${t}: none\n`);
    return;
  }
  emit(`\n${t}\n${underline(t)}\n`);
  for (const r of d.masterMessages) emit(` ${units(r.count)}  ${r.key}\n`);
}

// ---- Beyond pflogsumm ----------------------------------------------------------------------------

/** Indented counted rows under a sub-heading (nothing when empty). */
function sub(heading: string, rows: readonly Counted[], n: number): string {
  if (!rows.length) return '';
  return [`  ${heading}\n`, ...cut(rows, n).map((r) => `    ${units(r.count)}  ${r.key}\n`)].join('');
}

const stat = (v: number, label: string): string => ` ${units(v)}  ${label}\n`;
const pct = (a: number, b: number): string => `${Math.floor((a / b) * 100)}%`;

/** duration - `5m 12s`, `2h 3m`, `40s`. */
function duration(s: number): string {
  const x = Math.round(s);
  if (x >= 3600) return `${Math.floor(x / 3600)}h ${Math.floor((x % 3600) / 60)}m`;
  if (x >= 60) return `${Math.floor(x / 60)}m ${x % 60}s`;
  return `${x}s`;
}

function extras(d: ReportData, L: Limits): string {
  const out: string[] = [];
  const section = (name: string, empty: boolean, body: () => string): void => {
    if (empty) out.push(L.quiet ? '' : `\n${name}: none\n`);
    else out.push(`\n${name}\n${underline(name)}\n${body()}`);
  };
  const g = d.greylist;
  section('Greylisting', !g.greylisted && !g.passedAfterDelay && !g.whitelisted, () => [
    stat(g.greylisted, 'greylisted (deferred)'),
    stat(g.passedAfterDelay, `passed after the delay${g.medianDelay !== undefined ? ` (median ${duration(g.medianDelay)})` : ''}`),
    stat(g.whitelisted, 'passed by whitelist or auto-whitelist'),
    stat(g.neverRetried, 'greylisted triplets never retried'),
    sub('greylisted by reason', g.byReason, L.extra),
    sub('greylisted clients', g.topClients, L.hosts),
  ].join(''));
  const p = d.policy;
  section('Policy services', !p.byService.length && !p.spf.length, () => [
    ...p.byService.map((s) => sub(`${s.service} (total: ${s.actions.reduce((n, a) => n + a.count, 0)})`, s.actions, L.extra)),
    sub('SPF results', p.spf, L.extra),
  ].join(''));
  const s = d.sasl;
  section('SASL authentication', !s.logins && !s.failures && !s.byUser.length, () => {
    const rows = cut(s.byUser, L.users);
    const users = rows.length
      ? ['  messages by authenticated user (clients, methods)\n', ...rows.map((u) => `    ${units(u.messages)}  ${u.user} (${u.clients} client${u.clients === 1 ? '' : 's'}, ${u.methods.join(' ')})\n`)].join('')
      : '';
    return [
      stat(s.logins, 'sessions with a successful login'),
      stat(s.failures, 'failed authentications'),
      users,
      sub('failures by client', s.failuresByClient, L.hosts),
      sub('failures by method', s.failuresByMethod, L.extra),
    ].join('');
  });
  const t = d.tls;
  section('TLS', !t.inbound && !t.outbound, () => [
    stat(t.inbound, `inbound TLS sessions (smtpd)${t.inboundConnections ? `: ${pct(t.inbound, t.inboundConnections)} of ${t.inboundConnections} connections` : ''}`),
    stat(t.outbound, 'outbound TLS sessions (smtp, lmtp)'),
    sub('by trust level', t.byLevel, L.extra),
    sub('by protocol', t.byProtocol, L.extra),
    sub('by cipher', t.byCipher, L.extra),
  ].join(''));
  const ps = d.postscreen;
  section('Postscreen', !ps.connects && !ps.rejected && !ps.byEvent.length, () => [
    stat(ps.connects, 'connections'),
    stat(ps.passNew, 'passed all tests (PASS NEW)'),
    stat(ps.passOld, 'passed earlier, cached (PASS OLD)'),
    stat(ps.rejected, 'rejected'),
    sub('events', ps.byEvent, L.extra),
    sub('DNS blocklist sites', ps.dnsblSites, L.extra),
    sub('clients with the most failed tests and rejects', ps.topClients, L.hosts),
  ].join(''));
  return out.join('');
}
