/**
 * @module logs/report/html
 * The HTML face of `mxguard logs report`: one self-contained HTML5 document built from `ReportData`.
 *
 * Contract: inline CSS, charts as inline SVG drawn here (no JavaScript, fonts, images, scripts or
 * links to anything outside the page), so the file reads the same offline, as a mail attachment and
 * in a mail client's preview. A Content-Security-Policy meta forbids every fetch and every script, so
 * a mistake in escaping still could not run code in a browser that honours it.
 *
 * SECURITY: every string in `ReportData` comes from the logs, which strangers write (addresses, HELO
 * names, reasons quoting their commands). Each one goes through `escapeHtml` exactly where it is put
 * into markup, text or attribute, HTML or SVG; table cells take data, never markup, so a caller
 * cannot hand an unescaped string to a table.
 *
 * Limits: `opts.topHosts` cuts host/domain lists, `opts.topUsers` address/user lists, `opts.detail`
 * the reasons and keys of detail sections (0 leaves detail sections out), as pflogsumm's `-h`, `-u`
 * and `--detail` do; the page says how many rows a cut hid. Charts show at most CHART_ROWS rows.
 * XXX per-day bars get thin past a few months of logs: the chart scales to the page, never scrolls.
 */
import type { Counted, DetailGroup, ReportData, ReportOptions, Sized, TrafficRow } from './model.js';

/** Horizontal bar charts show this many rows at most; the tables below them hold the rest. */
const CHART_ROWS = 15;
/** Chart labels are cut to this many characters; the full text is in the element's <title>. */
const LABEL_CHARS = 44;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * escapeHtml - text safe in element content and in quoted attribute values, HTML and inline SVG.
 * C0 controls and DEL become their visible Control Pictures (U+2400…): the HTML parser would drop or
 * replace some (NUL) and a report should show that a log line carried them, not hide it.
 */
export function escapeHtml(value: string): string {
  return String(value).replace(/[&<>"'\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => {
    const known = ESCAPES[c];
    if (known !== undefined) return known;
    const code = c.charCodeAt(0);
    return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
  });
}

// ---- numbers --------------------------------------------------------------------------------------

/** A count as `1,234,567` (fixed separators, so the page does not depend on the reader's locale). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const digits = Math.abs(n).toFixed(Number.isInteger(n) ? 0 : 1);
  const [whole = '0', frac] = digits.split('.');
  return (n < 0 ? '−' : '') + whole.replace(/\B(?=(\d{3})+$)/g, ',') + (frac !== undefined ? `.${frac}` : '');
}

/** Bytes in binary units, one decimal: the exact count stays in the neighbouring cell or title. */
function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${n < 0 ? '−' : ''}${u === 0 ? String(v) : v.toFixed(1)} ${units[u]}`;
}

/** Seconds as `12.5 s`, `3 min 07 s`, `2 h 05 min`, `1 d 03 h`. */
function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  const t = Math.round(s);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (t < 3600) return `${Math.floor(t / 60)} min ${two(t % 60)} s`;
  if (t < 86400) return `${Math.floor(t / 3600)} h ${two(Math.floor(t / 60) % 60)} min`;
  return `${Math.floor(t / 86400)} d ${two(Math.floor(t / 3600) % 24)} h`;
}

/** A chart input: bad numbers (NaN, ±Infinity, negatives) draw as nothing rather than break the SVG. */
function safe(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** An SVG coordinate, one decimal; a non-finite value can only come from a bug and is drawn at 0. */
function coord(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0';
}

/** A round axis step (1, 2 or 5 times a power of ten, at least 1) giving about `ticks` intervals. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  if (!(raw > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** At most `limit` code points, with an ellipsis when cut; cut before escaping so no entity is split. */
function clip(s: string, limit = LABEL_CHARS): string {
  const cps = Array.from(s);
  return cps.length <= limit ? s : `${cps.slice(0, limit - 1).join('')}…`;
}

// ---- tables -------------------------------------------------------------------------------------

/** A table cell as data: strings are escaped and numbers formatted here, nowhere else. */
type Cell =
  | string
  | number
  | { readonly bytes: number }
  | { readonly seconds: number }
  | { readonly percent: number }
  | { readonly list: readonly string[] };

interface Column {
  readonly label: string;
  readonly numeric?: boolean;
}

function cellText(c: Cell): string {
  if (typeof c === 'string') return escapeHtml(c);
  if (typeof c === 'number') return formatCount(c);
  if ('bytes' in c) return formatCount(c.bytes);
  if ('seconds' in c) return escapeHtml(formatSeconds(c.seconds));
  if ('percent' in c) return Number.isFinite(c.percent) ? `${formatCount(c.percent)}%` : '—';
  return c.list.map(escapeHtml).join(', ');
}

function isNumeric(c: Cell): boolean {
  return typeof c === 'number' || (typeof c === 'object' && !('list' in c));
}

/** cut - the first `limit` rows (all when undefined) and a note saying how many were left out. */
function cut<T>(rows: readonly T[], limit: number | undefined): { rows: readonly T[]; note: string } {
  if (limit === undefined || rows.length <= limit) return { rows, note: '' };
  const kept = rows.slice(0, Math.max(0, Math.floor(limit)));
  const hidden = rows.length - kept.length;
  return { rows: kept, note: `<p class="note">${formatCount(hidden)} more ${hidden === 1 ? 'row' : 'rows'} not shown (limit ${formatCount(kept.length)}).</p>` };
}

/** table - a data table; the first column is the row header. Empty → "None." */
function table(caption: string, columns: readonly Column[], rows: readonly (readonly Cell[])[], limit?: number): string {
  if (rows.length === 0) return `<p class="none">${escapeHtml(caption)}: none.</p>`;
  const shown = cut(rows, limit);
  if (shown.rows.length === 0) return shown.note;
  const head = columns.map((c) => `<th scope="col"${c.numeric === true ? ' class="n"' : ''}>${escapeHtml(c.label)}</th>`).join('');
  const body = shown.rows.map((r) => `<tr>${r.map((c, i) => {
    const cls = isNumeric(c) ? ' class="n"' : '';
    const title = typeof c === 'object' && 'bytes' in c ? ` title="${escapeHtml(formatBytes(c.bytes))}"` : '';
    return i === 0 ? `<th scope="row"${cls}${title}>${cellText(c)}</th>` : `<td${cls}${title}>${cellText(c)}</td>`;
  }).join('')}</tr>`).join('\n');
  return `<table>\n<caption>${escapeHtml(caption)}</caption>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>${shown.note}`;
}

/** keyValues - a two-column summary table (label, value). */
function keyValues(caption: string, rows: readonly (readonly [string, Cell])[]): string {
  return table(caption, [{ label: 'Item' }, { label: 'Value', numeric: true }], rows);
}

function countedTable(caption: string, keyLabel: string, list: readonly Counted[], limit?: number): string {
  return table(caption, [{ label: keyLabel }, { label: 'Count', numeric: true }], list.map((c) => [c.key, c.count]), limit);
}

function sizedTable(caption: string, keyLabel: string, list: readonly Sized[], limit?: number): string {
  return table(caption, [{ label: keyLabel }, { label: 'Messages', numeric: true }, { label: 'Bytes', numeric: true }],
    list.map((s) => [s.key, s.count, { bytes: s.bytes }]), limit);
}

function trafficTable(caption: string, periodLabel: string, rows: readonly TrafficRow[], hourly: boolean): string {
  return table(caption, [{ label: periodLabel }, ...SERIES.map((s) => ({ label: s.label, numeric: true }))],
    rows.map((r) => [hourly ? hourLabel(r.period) : r.period, ...SERIES.map((s) => r[s.key])]));
}

/** `07` → `07:00–07:59`; anything else is shown as the collector wrote it. */
function hourLabel(period: string): string {
  return /^\d{2}$/.test(period) ? `${period}:00–${period}:59` : period;
}

/**
 * detailGroups - a pflogsumm detail section: one table per group, one row group per reason with its
 * keys under it. `limit` caps reasons per group and keys per reason.
 */
function detailGroups(groups: readonly DetailGroup[], limit: number | undefined): string {
  if (groups.length === 0) return '<p class="none">None.</p>';
  return groups.map((g) => {
    const reasons = cut(g.reasons, limit);
    const bodies = reasons.rows.map((r) => {
      const keys = cut(r.keys, limit);
      const keyRows = keys.rows.map((k) => `<tr><th scope="row" class="key">${escapeHtml(k.key)}</th><td class="n">${formatCount(k.count)}</td></tr>`);
      if (keys.rows.length < r.keys.length) keyRows.push(`<tr class="more"><td colspan="2">${formatCount(r.keys.length - keys.rows.length)} more not shown</td></tr>`);
      return `<tbody>\n<tr class="reason"><th scope="rowgroup">${escapeHtml(r.reason)}</th><td class="n">${formatCount(r.count)}</td></tr>\n${keyRows.join('\n')}\n</tbody>`;
    });
    const caption = `<caption>${escapeHtml(g.group)} <span class="count">(${formatCount(g.count)})</span></caption>`;
    const head = '<thead><tr><th scope="col">Reason, then key</th><th scope="col" class="n">Count</th></tr></thead>';
    const body = bodies.length > 0 ? bodies.join('\n') : '<tbody><tr><td colspan="2">Reasons not shown.</td></tr></tbody>';
    return `<table class="detail">\n${caption}\n${head}\n${body}\n</table>${reasons.note}`;
  }).join('\n');
}

// ---- charts -------------------------------------------------------------------------------------

type SeriesKey = 'received' | 'delivered' | 'deferred' | 'bounced' | 'rejected';

/** The traffic series; the fill attribute is the fallback for readers that drop <style> (mail). */
const SERIES: ReadonlyArray<{ readonly key: SeriesKey; readonly label: string; readonly fill: string }> = [
  { key: 'received', label: 'Received', fill: '#0072b2' },
  { key: 'delivered', label: 'Delivered', fill: '#009e73' },
  { key: 'deferred', label: 'Deferred', fill: '#e69f00' },
  { key: 'bounced', label: 'Bounced', fill: '#cc79a7' },
  { key: 'rejected', label: 'Rejected', fill: '#d55e00' },
];

interface ChartSeries {
  readonly cls: SeriesKey;
  readonly label: string;
  readonly fill: string;
}

const TRAFFIC: readonly ChartSeries[] = SERIES.map((s) => ({ cls: s.key, label: s.label, fill: s.fill }));

function seriesOf(key: SeriesKey, label?: string): ChartSeries {
  const s = SERIES.find((x) => x.key === key) ?? SERIES[0]!;
  return { cls: s.key, label: label ?? s.label, fill: s.fill };
}

/** The opening of a chart: accessible name on the <svg>, and a <title> for readers that want one. */
function svgOpen(id: string, width: number, height: number, title: string): string {
  const t = escapeHtml(title);
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${coord(width)} ${coord(height)}" role="img" aria-label="${t}" font-family="system-ui, sans-serif" font-size="11">\n<title>${t}</title>`;
}

function legend(series: readonly ChartSeries[], x0: number, y: number): string {
  return series.map((s, i) => {
    const x = x0 + i * 110;
    return `<rect class="key s-${s.cls}" x="${coord(x)}" y="${coord(y - 9)}" width="10" height="10" fill="${s.fill}"></rect>`
      + `<text x="${coord(x + 14)}" y="${coord(y)}" fill="currentColor">${escapeHtml(s.label)}</text>`;
  }).join('\n');
}

/**
 * groupedBars - vertical bars, one group per category, one bar per series, on one integer axis.
 * Grouped rather than stacked: received, delivered and rejected overlap (a message is received, then
 * delivered), so stacking would add things that must not be added.
 */
function groupedBars(id: string, title: string, categories: readonly { label: string; full: string }[],
  series: readonly ChartSeries[], values: readonly (readonly number[])[]): string {
  const n = Math.max(1, categories.length);
  const width = Math.max(960, n * series.length * 4 + 80);
  const height = 260;
  const left = 56, right = 8, top = 34, bottom = 26; // a 200 px plot
  const pw = width - left - right, ph = height - top - bottom;
  const max = Math.max(0, ...values.flat().map(safe));
  const step = niceStep(max, 4);
  const scaleMax = Math.max(step, Math.ceil(max / step) * step);
  const out: string[] = [svgOpen(id, width, height, title), legend(series, left, 14)];
  for (let t = 0; t <= scaleMax; t += step) {
    const y = top + ph - (t / scaleMax) * ph;
    out.push(`<line class="grid" x1="${coord(left)}" x2="${coord(width - right)}" y1="${coord(y)}" y2="${coord(y)}" stroke="#999999"></line>`
      + `<text class="tick" x="${coord(left - 6)}" y="${coord(y + 4)}" text-anchor="end" fill="currentColor">${formatCount(t)}</text>`);
  }
  const groupW = pw / n;
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  // Thin out category labels so they never overlap: about 34 px per label.
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 34))));
  categories.forEach((c, i) => {
    const gx = left + i * groupW;
    series.forEach((s, j) => {
      const v = safe(values[i]?.[j] ?? 0);
      const h = (v / scaleMax) * ph;
      out.push(`<rect class="bar s-${s.cls}" x="${coord(gx + groupW * 0.1 + j * barW)}" y="${coord(top + ph - h)}" width="${coord(barW)}" height="${coord(h)}" fill="${s.fill}">`
        + `<title>${escapeHtml(c.full)}: ${escapeHtml(s.label)} ${formatCount(v)}</title></rect>`);
    });
    if (i % every === 0) {
      out.push(`<text class="cat" x="${coord(gx + groupW / 2)}" y="${coord(height - 10)}" text-anchor="middle" fill="currentColor">${escapeHtml(c.label)}<title>${escapeHtml(c.full)}</title></text>`);
    }
  });
  out.push(`<line class="axis" x1="${coord(left)}" x2="${coord(width - right)}" y1="${coord(top + ph)}" y2="${coord(top + ph)}" stroke="currentColor"></line>`, '</svg>');
  return out.join('\n');
}

/** horizontalBars - one row per key, one bar per series, labels left and values right of the bar. */
function horizontalBars(id: string, title: string, rows: readonly { key: string; values: readonly number[] }[],
  series: readonly ChartSeries[]): string {
  const width = 960;
  const labelW = 300, valueW = 80;
  const barH = 12, gap = 2, pad = 10;
  const rowH = series.length * barH + (series.length - 1) * gap + pad;
  const top = series.length > 1 ? 26 : 6;
  const height = top + rows.length * rowH + 4;
  const area = width - labelW - valueW;
  const max = Math.max(0, ...rows.flatMap((r) => r.values.map(safe)));
  const scaleMax = max > 0 ? max : 1;
  const out: string[] = [svgOpen(id, width, height, title)];
  if (series.length > 1) out.push(legend(series, labelW, 14));
  rows.forEach((r, i) => {
    const y0 = top + i * rowH + pad / 2;
    const mid = y0 + (rowH - pad) / 2;
    out.push(`<text class="lab" x="${coord(labelW - 8)}" y="${coord(mid + 4)}" text-anchor="end" fill="currentColor">${escapeHtml(clip(r.key))}<title>${escapeHtml(r.key)}</title></text>`);
    series.forEach((s, j) => {
      const v = safe(r.values[j] ?? 0);
      const w = (v / scaleMax) * area;
      const y = y0 + j * (barH + gap);
      out.push(`<rect class="bar s-${s.cls}" x="${coord(labelW)}" y="${coord(y)}" width="${coord(w)}" height="${barH}" fill="${s.fill}">`
        + `<title>${escapeHtml(r.key)}: ${escapeHtml(s.label)} ${formatCount(v)}</title></rect>`
        + `<text class="val" x="${coord(labelW + w + 4)}" y="${coord(y + barH - 2)}" fill="currentColor">${formatCount(v)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n');
}

function figure(svg: string, caption: string): string {
  return `<figure>\n${svg}\n<figcaption>${escapeHtml(caption)}</figcaption>\n</figure>`;
}

/** The 24 hours in order; rows the collector did not give (or gave twice) are zero (or summed). */
function hourSlots(rows: readonly TrafficRow[]): number[][] {
  const slots = Array.from({ length: 24 }, () => SERIES.map(() => 0));
  for (const r of rows) {
    if (!/^\d{2}$/.test(r.period)) continue;
    const h = Number(r.period);
    const slot = slots[h];
    if (slot === undefined) continue;
    SERIES.forEach((s, j) => { slot[j] = (slot[j] ?? 0) + safe(r[s.key]); });
  }
  return slots;
}

function charts(d: ReportData): string {
  const parts: string[] = [];
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
  const hourTitle = d.perHourIsAverage ? 'Traffic per hour (daily average)' : 'Traffic per hour';
  parts.push(figure(groupedBars('chart-hourly', hourTitle, hours.map((h) => ({ label: h, full: hourLabel(h) })), TRAFFIC, hourSlots(d.perHour)),
    `${hourTitle}: messages received, delivered, deferred, bounced and rejected.`));
  if (d.perDay.length > 1) {
    const days = d.perDay.map((r) => ({ label: /^\d{4}-\d{2}-\d{2}$/.test(r.period) ? r.period.slice(5) : clip(r.period, 10), full: r.period }));
    parts.push(figure(groupedBars('chart-daily', 'Traffic per day', days, TRAFFIC, d.perDay.map((r) => SERIES.map((s) => r[s.key]))),
      'Traffic per day: messages received, delivered, deferred, bounced and rejected.'));
  }
  const reasons = d.rejectsByReason.slice(0, CHART_ROWS);
  parts.push(reasons.length === 0 ? '<p class="none">Rejects by reason: none.</p>'
    : figure(horizontalBars('chart-rejects', 'Rejects by reason', reasons.map((r) => ({ key: r.key, values: [r.count] })), [seriesOf('rejected', 'Rejects')]),
      `Rejects by reason${d.rejectsByReason.length > reasons.length ? `, top ${reasons.length} of ${d.rejectsByReason.length}` : ''}.`));
  const clients = d.topClients.slice(0, CHART_ROWS);
  parts.push(clients.length === 0 ? '<p class="none">Top clients: none.</p>'
    : figure(horizontalBars('chart-clients', 'Top clients: connections and rejects', clients.map((c) => ({ key: c.key, values: [c.connections, c.rejects] })),
      [seriesOf('received', 'Connections'), seriesOf('rejected', 'Rejects')]),
      `Top clients by connections, with their rejects${d.topClients.length > clients.length ? `, top ${clients.length} of ${d.topClients.length}` : ''}.`));
  return parts.join('\n');
}

// ---- sections -----------------------------------------------------------------------------------

interface Section {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  /** Moved up after the grand totals when `problemsFirst` is set. */
  readonly problem?: boolean;
}

function totalsSection(d: ReportData): Section {
  const t = d.totals;
  const rows: (readonly [string, Cell])[] = [
    ['Received', t.received], ['Delivered', t.delivered], ['Forwarded', t.forwarded],
    ['Deferred (queue ids)', t.deferred], ['Deferrals (lines)', t.deferrals], ['Bounced', t.bounced],
    ['Rejected', t.rejected], ['Rejected, share', { percent: t.rejectedPercent }],
    ['Reject warnings', t.rejectWarnings], ['Held', t.held], ['Discarded', t.discarded], ['Discarded, share', { percent: t.discardedPercent }],
  ];
  const bytes: (readonly [string, Cell])[] = [
    ['Bytes received', { bytes: t.bytesReceived }], ['Bytes delivered', { bytes: t.bytesDelivered }],
    ['Senders', t.senders], ['Sending hosts/domains', t.sendingDomains], ['Recipients', t.recipients], ['Recipient hosts/domains', t.recipientDomains],
  ];
  return { id: 'totals', title: 'Grand totals', body: `${keyValues('Messages', rows)}\n${keyValues('Bytes and parties', bytes)}` };
}

function smtpdSection(d: ReportData, o: ReportOptions): Section {
  const s = d.smtpd;
  const perPeriod = (caption: string, label: string, rows: SmtpdPeriods, hourly: boolean): string =>
    table(caption, [{ label }, { label: 'Connections', numeric: true }, { label: 'Time', numeric: true }],
      rows.map((r) => [hourly ? hourLabel(r.period) : r.period, r.connections, { seconds: r.seconds }]));
  return {
    id: 'smtpd', title: 'SMTPD connections',
    body: [
      keyValues('Summary', [['Connections', s.connections], ['Hosts/domains', s.hosts],
        ['Total connect time', { seconds: s.totalConnectTime }], ['Average connect time', { seconds: s.avgConnectTime }]]),
      perPeriod('Per day', 'Date', s.perDay, false),
      perPeriod(d.perHourIsAverage ? 'Per hour (daily average)' : 'Per hour', 'Hour', s.perHour, true),
      table('By host/domain', [{ label: 'Host/domain' }, { label: 'Connections', numeric: true }, { label: 'Total time', numeric: true }, { label: 'Longest', numeric: true }],
        s.byHost.map((h) => [h.key, h.connections, { seconds: h.seconds }, { seconds: h.maxSeconds }]), o.topHosts),
    ].join('\n'),
  };
}
type SmtpdPeriods = ReportData['smtpd']['perDay'];

function detailSections(d: ReportData, o: ReportOptions): Section[] {
  // --detail 0 leaves the detail sections out, as pflogsumm does.
  if (o.detail === 0) return [];
  const groups: ReadonlyArray<readonly [string, string, readonly DetailGroup[]]> = [
    ['deferrals', 'Deferrals', d.deferrals], ['bounces', 'Bounces', d.bounces], ['rejects', 'Rejects', d.rejects],
    ['reject-warnings', 'Reject warnings', d.rejectWarnings], ['holds', 'Holds', d.holds], ['discards', 'Discards', d.discards],
    ['smtp-failures', 'SMTP delivery failures', d.smtpFailures], ['warnings', 'Warnings', d.warnings],
    ['fatals', 'Fatal errors', d.fatals], ['panics', 'Panics', d.panics],
  ];
  return [
    ...groups.map(([id, title, g]) => ({ id, title, body: detailGroups(g, o.detail), problem: true })),
    { id: 'master', title: 'Master daemon messages', body: countedTable('Messages', 'Message', d.masterMessages, o.detail), problem: true },
    { id: 'no-size', title: 'Messages with no size data', problem: true,
      body: table('Queue ids', [{ label: 'Queue id' }], d.noSizeData.map((q) => [q]), o.detail) },
  ];
}

function extraSections(d: ReportData, o: ReportOptions): Section[] {
  const g = d.greylist, p = d.policy, s = d.sasl, t = d.tls, ps = d.postscreen;
  const greySummary: (readonly [string, Cell])[] = [['Greylisted', g.greylisted], ['Passed after the delay', g.passedAfterDelay],
    ['Whitelisted', g.whitelisted], ['Never retried', g.neverRetried]];
  if (g.medianDelay !== undefined) greySummary.push(['Median delay', { seconds: g.medianDelay }]);
  const tlsShare = t.inboundConnections > 0 ? Math.round((t.inbound / t.inboundConnections) * 1000) / 10 : NaN;
  return [
    { id: 'rejects-by-reason', title: 'Rejects by reason', body: countedTable('Rejects by reason', 'Reason', d.rejectsByReason) },
    { id: 'top-clients', title: 'Top clients', body: table('Clients by connections', [{ label: 'Client' }, { label: 'Connections', numeric: true },
      { label: 'Messages', numeric: true }, { label: 'Rejects', numeric: true }], d.topClients.map((c) => [c.key, c.connections, c.messages, c.rejects]), o.topHosts) },
    { id: 'greylisting', title: 'Greylisting', body: [keyValues('Summary', greySummary),
      countedTable('By reason', 'Reason', g.byReason), countedTable('Top greylisted clients', 'Client', g.topClients, o.topHosts)].join('\n') },
    { id: 'policy', title: 'Policy services', body: [
      ...(p.byService.length === 0 ? ['<p class="none">Policy services: none.</p>'] : p.byService.map((svc) => countedTable(svc.service, 'Action', svc.actions))),
      countedTable('SPF results', 'Result', p.spf)].join('\n') },
    { id: 'sasl', title: 'SASL authentication', body: [keyValues('Summary', [['Logins', s.logins], ['Failures', s.failures]]),
      table('By user', [{ label: 'User' }, { label: 'Messages', numeric: true }, { label: 'Clients', numeric: true }, { label: 'Methods' }],
        s.byUser.map((u) => [u.user, u.messages, u.clients, { list: u.methods }]), o.topUsers),
      countedTable('Failures by client', 'Client', s.failuresByClient, o.topHosts),
      countedTable('Failures by method', 'Method', s.failuresByMethod)].join('\n') },
    { id: 'tls', title: 'TLS', body: [keyValues('Summary', [['Inbound TLS connections', t.inbound], ['Outbound TLS connections', t.outbound],
      ['Inbound connections', t.inboundConnections], ['Inbound with TLS', { percent: tlsShare }]]),
      countedTable('By trust level', 'Level', t.byLevel), countedTable('By protocol', 'Protocol', t.byProtocol),
      countedTable('By cipher', 'Cipher', t.byCipher)].join('\n') },
    { id: 'postscreen', title: 'Postscreen', body: [keyValues('Summary', [['Connections', ps.connects], ['Passed (new)', ps.passNew],
      ['Passed (old)', ps.passOld], ['Rejected', ps.rejected]]),
      countedTable('By event', 'Event', ps.byEvent), countedTable('DNSBL sites', 'Site', ps.dnsblSites, o.topHosts),
      countedTable('Top clients', 'Client', ps.topClients, o.topHosts)].join('\n') },
  ];
}

function inputSection(d: ReportData): Section {
  const i = d.input;
  const rows: (readonly [string, Cell])[] = [['Lines read', i.lines], ['Parsed', i.parsed], ['Not understood', i.unparsed], ['Outside the time range', i.outside]];
  const times: (readonly [string, Cell])[] = [];
  if (i.first !== undefined) times.push(['First line', i.first]);
  if (i.last !== undefined) times.push(['Last line', i.last]);
  if (i.since !== undefined) times.push(['Since', i.since]);
  if (i.until !== undefined) times.push(['Until', i.until]);
  times.push(['Report made', d.generated]);
  return {
    id: 'input', title: 'Input',
    body: [keyValues('Lines', rows), table('Time range', [{ label: 'Item' }, { label: 'Time' }], times),
      table('Files', [{ label: 'File' }], i.files.map((f) => [f])), table('Hosts in the logs', [{ label: 'Host' }], d.hosts.map((h) => [h]))].join('\n'),
  };
}

function sections(d: ReportData, o: ReportOptions): Section[] {
  const main: Section[] = [
    totalsSection(d),
    { id: 'charts', title: 'Charts', body: charts(d) },
    { id: 'per-day', title: 'Traffic per day', body: trafficTable('Traffic per day', 'Date', d.perDay, false) },
    { id: 'per-hour', title: d.perHourIsAverage ? 'Traffic per hour (daily average)' : 'Traffic per hour',
      body: trafficTable(d.perHourIsAverage ? 'Traffic per hour, daily average' : 'Traffic per hour', 'Hour', d.perHour, true) },
    { id: 'delivery-domains', title: 'Message delivery by domain', body: table('Delivered per domain',
      [{ label: 'Domain' }, { label: 'Sent', numeric: true }, { label: 'Bytes', numeric: true }, { label: 'Defers', numeric: true },
        { label: 'Average delay', numeric: true }, { label: 'Longest delay', numeric: true }],
      d.deliveryDomains.map((x) => [x.domain, x.sent, { bytes: x.bytes }, x.defers, { seconds: x.avgDelay }, { seconds: x.maxDelay }]), o.topHosts) },
    { id: 'received-domains', title: 'Messages received by domain', body: sizedTable('Received per domain', 'Domain', d.receivedDomains, o.topHosts) },
    smtpdSection(d, o),
    { id: 'senders-count', title: 'Senders by message count', body: countedTable('Senders by message count', 'Sender', d.sendersByCount, o.topUsers) },
    { id: 'recipients-count', title: 'Recipients by message count', body: countedTable('Recipients by message count', 'Recipient', d.recipientsByCount, o.topUsers) },
    { id: 'senders-size', title: 'Senders by message size', body: sizedTable('Senders by message size', 'Sender', d.sendersBySize, o.topUsers) },
    { id: 'recipients-size', title: 'Recipients by message size', body: sizedTable('Recipients by message size', 'Recipient', d.recipientsBySize, o.topUsers) },
    ...detailSections(d, o),
    ...extraSections(d, o),
    inputSection(d),
  ];
  if (o.problemsFirst !== true) return main;
  const [first, ...rest] = main;
  return first === undefined ? main : [first, ...rest.filter((s) => s.problem === true), ...rest.filter((s) => s.problem !== true)];
}

// ---- page ---------------------------------------------------------------------------------------

const CSS = `
:root { color-scheme: light dark; --fg: #1b1f23; --bg: #ffffff; --muted: #5a6470; --rule: #d0d7de; --stripe: #f4f6f8;
  --c-received: #0072b2; --c-delivered: #009e73; --c-deferred: #e69f00; --c-bounced: #cc79a7; --c-rejected: #d55e00; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --bg: #15181c; --muted: #9aa4af; --rule: #3a424b; --stripe: #1d2127;
    --c-received: #56b4e9; --c-delivered: #3cc99c; --c-deferred: #f0c050; --c-bounced: #e3a3cc; --c-rejected: #ff8c5a; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem; color: var(--fg); background: var(--bg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: .5rem 0; } h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--rule); }
header p, footer, .note, .none, figcaption, caption .count { color: var(--muted); }
nav ol { columns: 3 14rem; padding-left: 1.2rem; margin: .5rem 0; } a { color: var(--c-received); }
table { border-collapse: collapse; margin: .5rem 0 1.25rem; min-width: 20rem; max-width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th[scope="row"], th[scope="rowgroup"] { font-weight: normal; }
thead th { border-bottom: 2px solid var(--rule); font-weight: 600; }
tbody tr:nth-child(even) { background: var(--stripe); }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.detail tr.reason th, table.detail tr.reason td { font-weight: 600; }
table.detail th.key { padding-left: 1.6rem; } tr.more td { color: var(--muted); font-style: italic; }
figure { margin: 1rem 0 1.5rem; } svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: var(--rule); }
.s-received { fill: var(--c-received); } .s-delivered { fill: var(--c-delivered); } .s-deferred { fill: var(--c-deferred); }
.s-bounced { fill: var(--c-bounced); } .s-rejected { fill: var(--c-rejected); }
.empty { font-size: 1.2rem; padding: 1rem; border: 1px solid var(--rule); }
@media print {
  :root { --fg: #000; --bg: #fff; --muted: #444; --rule: #999; --stripe: #fff; }
  body { max-width: none; padding: 0; font-size: 10pt; } nav { display: none; }
  h2 { break-after: avoid; } figure, tr { break-inside: avoid; } thead { display: table-header-group; }
  svg.chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

function page(title: string, header: string, nav: string, body: string, footer: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="mxguard logs report">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
${header}
</header>
${nav}
<main>
${body}
</main>
<footer><p>${footer}</p></footer>
</body>
</html>
`;
}

/** The time span line under the title: first–last line, else the requested range, else nothing. */
function spanText(d: ReportData): string {
  const i = d.input;
  if (i.first !== undefined || i.last !== undefined) return `${i.first ?? '?'} – ${i.last ?? '?'}`;
  if (i.since !== undefined || i.until !== undefined) return `${i.since ?? '…'} – ${i.until ?? '…'}`;
  return '';
}

/**
 * renderHtml - the report as one HTML5 document (UTF-8 text). Pure: the same data gives the same
 * page, so tests can compare and the CLI can write it wherever it is told.
 */
export function renderHtml(data: ReportData, opts: ReportOptions = {}): string {
  const hosts = data.hosts.length > 0 ? data.hosts.join(', ') : '';
  const span = spanText(data);
  const title = ['Mail log report', hosts, span].filter((x) => x !== '').join(' — ');
  const header = `<h1>Mail log report</h1>\n<p>${[hosts !== '' ? `Hosts: ${escapeHtml(hosts)}` : '', span !== '' ? `Period: ${escapeHtml(span)}` : '']
    .filter((x) => x !== '').join(' · ') || 'No hosts or times seen.'}</p>`;
  const footer = `Made ${escapeHtml(data.generated)} by mxguard logs report from ${formatCount(data.input.lines)} log ${data.input.lines === 1 ? 'line' : 'lines'}.`;
  const inRange = data.input.lines - data.input.outside;
  if (data.input.lines === 0 || inRange <= 0) {
    // Nothing to chart or count: say so plainly, and still show what was read.
    const why = data.input.lines === 0 ? 'no log lines were read' : `none of the ${formatCount(data.input.lines)} lines read falls in the time range`;
    const input = inputSection(data);
    const body = `<p class="empty" id="nothing">Nothing to report: ${why}.</p>\n<section id="${input.id}" aria-labelledby="${input.id}-h">\n<h2 id="${input.id}-h">${escapeHtml(input.title)}</h2>\n${input.body}\n</section>`;
    return page(title, header, '', body, footer);
  }
  const all = sections(data, opts);
  const nav = `<nav aria-label="Contents"><ol>\n${all.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join('\n')}\n</ol></nav>`;
  const body = all.map((s) => `<section id="${s.id}" aria-labelledby="${s.id}-h">\n<h2 id="${s.id}-h">${escapeHtml(s.title)}</h2>\n${s.body}\n</section>`).join('\n');
  return page(title, header, nav, body, footer);
}
