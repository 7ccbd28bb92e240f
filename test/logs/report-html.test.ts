/**
 * @module test/logs/report-html
 * The HTML report: one well-formed, self-contained document; the charts draw the numbers they are
 * given (bar counts, heights, widths); every string from the logs is escaped, in every field; empty
 * and all-zero data render without NaN; pflogsumm's limits cut the tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, formatCount, renderHtml } from '../../src/logs/report/html.js';
import type { ReportData } from '../../src/logs/report/model.js';
import { emptyReport, sampleReport } from './report-sample.js';

interface Tag { readonly name: string; readonly closing: boolean; readonly attrs: ReadonlyMap<string, string> }

/** HTML elements that never take a closing tag (only `meta` is expected in the page). */
const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'area', 'base', 'col', 'embed', 'source', 'track', 'wbr']);

/**
 * tags - every tag of the page, <style> content left out. Text never holds a raw `<` or `>` (the
 * renderer escapes both), so a regular expression finds exactly the real tags; anything left over
 * that looks like markup fails the test.
 */
function tags(html: string): Tag[] {
  const body = html.replace(/^<!DOCTYPE html>\n/, '').replace(/(<style>)[\s\S]*?(<\/style>)/g, '$1$2');
  const out: Tag[] = [];
  const re = /<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:\s+[^\s<>=/]+(?:="[^"<>]*")?)*)\s*>/g;
  for (const m of body.matchAll(re)) {
    const attrs = new Map<string, string>();
    for (const a of (m[3] ?? '').matchAll(/([^\s=]+)(?:="([^"]*)")?/g)) attrs.set(a[1]!.toLowerCase(), a[2] ?? '');
    out.push({ name: m[2]!.toLowerCase(), closing: m[1] === '/', attrs });
  }
  const rest = body.replace(re, '');
  assert.doesNotMatch(rest, /[<>]/, 'a < or > outside a tag: unescaped text or broken markup');
  return out;
}

/** balanced - every non-void element closes, in order (HTML and SVG alike). */
function assertBalanced(html: string): void {
  const stack: string[] = [];
  for (const t of tags(html)) {
    if (VOID.has(t.name)) { assert.equal(t.closing, false, `</${t.name}>`); continue; }
    if (!t.closing) { stack.push(t.name); continue; }
    assert.equal(stack.pop(), t.name, `</${t.name}> closes the wrong element`);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

function element(html: string, tag: string, id: string): string {
  const m = new RegExp(`<${tag} id="${id}"[\\s\\S]*?</${tag}>`).exec(html);
  assert.ok(m, `<${tag} id="${id}"> is missing`);
  return m[0];
}

const count = (s: string, needle: string): number => s.split(needle).length - 1;

const SECTIONS = ['totals', 'charts', 'per-day', 'per-hour', 'delivery-domains', 'received-domains', 'smtpd',
  'senders-count', 'recipients-count', 'senders-size', 'recipients-size', 'deferrals', 'bounces', 'rejects',
  'reject-warnings', 'holds', 'discards', 'smtp-failures', 'warnings', 'fatals', 'panics', 'master', 'no-size',
  'rejects-by-reason', 'top-clients', 'greylisting', 'policy', 'sasl', 'tls', 'postscreen', 'input'];

const sectionIds = (html: string): string[] => tags(html).filter((t) => t.name === 'section' && !t.closing).map((t) => t.attrs.get('id') ?? '');

/** A deep copy with changes: the model is read-only, tests build variants through JSON. */
function variant(change: (d: any) => void, base: ReportData = sampleReport()): ReportData {
  const d = JSON.parse(JSON.stringify(base));
  change(d);
  return d as ReportData;
}

test('escapeHtml: the five specials and control characters', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  assert.equal(escapeHtml('<script>alert(1)</script>'), '&lt;script&gt;alert(1)&lt;/script&gt;');
  assert.equal(escapeHtml('a\u0000b\u001bc\u007f\td\n'), 'a\u2400b\u241bc\u2421\td\n');
  assert.equal(escapeHtml('plain mail.example.net[192.0.2.1]'), 'plain mail.example.net[192.0.2.1]');
});

test('formatCount: thousands separators, decimals, bad numbers', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(1000), '1,000');
  assert.equal(formatCount(48_734_113), '48,734,113');
  assert.equal(formatCount(1234.56), '1,234.6');
  assert.equal(formatCount(-1500), '−1,500');
  assert.equal(formatCount(NaN), '—');
  assert.equal(formatCount(Infinity), '—');
});

test('one well-formed, self-contained document', () => {
  const html = renderHtml(sampleReport());
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
  assert.ok(html.endsWith('</html>\n'));
  assert.equal(count(html, '<!DOCTYPE'), 1);
  const all = tags(html);
  for (const name of ['html', 'head', 'body', 'main', 'style']) assert.equal(all.filter((t) => t.name === name && !t.closing).length, 1, name);
  assertBalanced(html);
  // The only fetch-like attributes allowed are in-page anchors; no element that loads anything.
  for (const t of all) {
    for (const [name, value] of t.attrs) {
      assert.ok(!name.startsWith('on'), `event handler ${name}`);
      if (['href', 'xlink:href'].includes(name)) assert.match(value, /^#[a-z-]+$/, `${t.name} ${name}="${value}"`);
      assert.ok(!['src', 'srcset', 'action', 'poster', 'background', 'data', 'formaction'].includes(name), `${t.name} has ${name}`);
    }
    assert.ok(!['script', 'link', 'img', 'iframe', 'object', 'embed', 'image', 'use', 'foreignobject'].includes(t.name), `<${t.name}>`);
  }
  const css = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  assert.ok(css.length > 100);
  assert.doesNotMatch(css, /url\(|@import|@font-face/);
  assert.match(css, /prefers-color-scheme: dark/);
  assert.match(css, /@media print/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
});

test('every section of the model is present, in order, with a contents link', () => {
  const html = renderHtml(sampleReport());
  assert.deepEqual(sectionIds(html), SECTIONS);
  for (const id of SECTIONS) {
    assert.equal(count(html, `<a href="#${id}">`), 1, `contents link to ${id}`);
    assert.equal(count(html, `<h2 id="${id}-h">`), 1, `heading of ${id}`);
  }
  // Spot checks that the tables carry the data, right-aligned and grouped.
  assert.match(element(html, 'section', 'input'), /<td class="n">48,213<\/td>/);
  assert.match(element(html, 'section', 'totals'), /<td class="n" title="46\.5 MiB">48,734,113<\/td>/);
  assert.match(element(html, 'section', 'delivery-domains'), /<th scope="row">slow\.example<\/th><td class="n">4<\/td><td class="n" title="117\.6 KiB">120,400<\/td><td class="n">6<\/td><td class="n">1 h 10 min<\/td><td class="n">4 h 00 min<\/td>/);
  assert.match(element(html, 'section', 'sasl'), /<th scope="row">carol<\/th><td class="n">12<\/td><td class="n">2<\/td><td>PLAIN, LOGIN<\/td>/);
  assert.match(element(html, 'section', 'tls'), /Inbound with TLS<\/th><td class="n">43\.9%<\/td>/);
  assert.match(element(html, 'section', 'greylisting'), /Median delay<\/th><td class="n">10 min 12 s<\/td>/);
  assert.match(element(html, 'section', 'per-hour'), /<th scope="row">09:00–09:59<\/th><td class="n">40<\/td>/);
  const rejects = element(html, 'section', 'rejects');
  assert.equal(count(rejects, '<table class="detail">'), 2);
  assert.equal(count(rejects, '<tr class="reason">'), 4);
  assert.match(rejects, /<tr class="reason"><th scope="rowgroup">Relay access denied<\/th><td class="n">64<\/td><\/tr>/);
  assert.match(element(html, 'section', 'holds'), /<p class="none">None\.<\/p>/);
  // Accessible tables: every header cell says what it heads.
  for (const t of tags(html)) if (t.name === 'th' && !t.closing) assert.ok(['col', 'row', 'rowgroup'].includes(t.attrs.get('scope') ?? ''), 'th without scope');
});

test('hourly chart: 24 groups of 5 bars, heights on one scale', () => {
  const html = renderHtml(sampleReport());
  const svg = element(html, 'svg', 'chart-hourly');
  assert.match(svg, /^<svg id="chart-hourly" class="chart" xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 960 260" role="img" aria-label="Traffic per hour \(daily average\)"[^>]*>\n<title>Traffic per hour \(daily average\)<\/title>/);
  assert.equal(count(svg, 'class="bar '), 120);
  for (const s of ['received', 'delivered', 'deferred', 'bounced', 'rejected']) assert.equal(count(svg, `class="bar s-${s}"`), 24, s);
  const labels = [...svg.matchAll(/<text class="cat"[^>]*>(\d\d)<title>/g)].map((m) => m[1]);
  assert.deepEqual(labels, Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')));
  // The largest value (40 received at 09) fills the plot (200 px); 0 received at 04 draws nothing.
  assert.match(svg, /height="200" fill="#0072b2"><title>09:00–09:59: Received 40<\/title>/);
  assert.match(svg, /height="0" fill="#0072b2"><title>04:00–04:59: Received 0<\/title>/);
  // 38 received at 10: 38/40 of 200 px.
  assert.match(svg, /height="190" fill="#0072b2"><title>10:00–10:59: Received 38<\/title>/);
  assert.equal(count(svg, '<text class="tick"'), 5, 'ticks 0, 10, 20, 30, 40');
});

test('per-day chart only when the logs span more than one day', () => {
  const two = renderHtml(sampleReport());
  const svg = element(two, 'svg', 'chart-daily');
  assert.equal(count(svg, 'class="bar '), 10);
  assert.deepEqual([...svg.matchAll(/<text class="cat"[^>]*>([^<]*)<title>/g)].map((m) => m[1]), ['07-18', '07-19']);
  const one = renderHtml(variant((d) => { d.perDay = d.perDay.slice(0, 1); }));
  assert.ok(!one.includes('id="chart-daily"'));
  assert.ok(one.includes('id="chart-hourly"'));
});

test('rejects-by-reason and top-clients charts: one row per key, widths to scale', () => {
  const html = renderHtml(sampleReport());
  const rejects = element(html, 'svg', 'chart-rejects');
  assert.equal(count(rejects, 'class="bar '), 5);
  assert.equal(count(rejects, '<text class="lab"'), 5);
  // Bar area is 960 - 300 - 80 = 580 px: 180 → 580, 64 → 206.2.
  assert.match(rejects, /width="580" height="12" fill="#d55e00"><title>blocked using zen\.spamhaus\.org: Rejects 180<\/title>/);
  assert.match(rejects, /width="206\.2" height="12" fill="#d55e00"><title>Relay access denied: Rejects 64<\/title>/);
  const clients = element(html, 'svg', 'chart-clients');
  assert.equal(count(clients, 'class="bar s-received"'), 4, 'connections');
  assert.equal(count(clients, 'class="bar s-rejected"'), 4, 'rejects');
  assert.equal(count(clients, '<text class="lab"'), 4);
  assert.match(clients, /width="0" height="12" fill="#d55e00"><title>mail\.partner\.example\[198\.51\.100\.2\]: Rejects 0<\/title>/);
});

test('charts stop at 15 rows; tables keep every row; long labels are clipped with the full text in a title', () => {
  const long = 'x'.repeat(60);
  const many = renderHtml(variant((d) => {
    d.rejectsByReason = Array.from({ length: 20 }, (_, i) => ({ key: i === 0 ? long : `reason ${i}`, count: 100 - i }));
  }));
  const svg = element(many, 'svg', 'chart-rejects');
  assert.equal(count(svg, 'class="bar '), 15);
  assert.ok(svg.includes(`>${'x'.repeat(43)}…<title>${long}</title></text>`));
  assert.match(many, /top 15 of 20/);
  assert.equal(count(element(many, 'section', 'rejects-by-reason'), '<tr><th scope="row">'), 20);
});

/** Every string in the model replaced by a hostile one naming its path; returns the values used. */
function poison(d: any, path: string, used: string[]): any {
  if (typeof d === 'string') {
    const v = `<script>alert("${path}")</script>'"><img src=x onerror=alert(1)>&amp;`;
    used.push(v);
    return v;
  }
  if (Array.isArray(d)) return d.map((x, i) => poison(x, `${path}[${i}]`, used));
  if (d !== null && typeof d === 'object') return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, poison(v, `${path}.${k}`, used)]));
  return d;
}

test('hostile strings in every field are escaped, in text, attributes and SVG', () => {
  const used: string[] = [];
  const hostile = poison(sampleReport(), 'd', used) as ReportData;
  assert.ok(used.length > 100, `only ${used.length} strings poisoned`);
  const html = renderHtml(hostile);
  assert.ok(!html.includes('<script'), 'raw <script>');
  assert.ok(!html.includes('<img'), 'raw <img>');
  assert.ok(!/"><img|onerror=alert\(1\)>/.test(html));
  // Every string of the model is on the page, escaped, so no field was skipped or left raw.
  for (const v of used) assert.ok(html.includes(escapeHtml(v)), `missing or unescaped: ${v}`);
  assert.ok(html.includes('&lt;script&gt;alert(&quot;d.rejectsByReason[0].key&quot;)&lt;/script&gt;&#39;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;'));
  // Inside the charts too: the clipped label and the full title.
  const svg = element(html, 'svg', 'chart-clients');
  assert.ok(svg.includes('<title>&lt;script&gt;alert(&quot;d.topClients[1].key&quot;)'));
  assertBalanced(html);
  // No new element or attribute came in with the data.
  const clean = tags(renderHtml(sampleReport()));
  const names = (ts: Tag[]): Set<string> => new Set(ts.map((t) => t.name));
  const attrNames = (ts: Tag[]): Set<string> => new Set(ts.flatMap((t) => [...t.attrs.keys()]));
  assert.deepEqual(names(tags(html)), names(clean));
  assert.deepEqual(attrNames(tags(html)), attrNames(clean));
});

test('empty report: a valid page that says there is nothing to report', () => {
  const html = renderHtml(emptyReport());
  assertBalanced(html);
  assert.match(html, /<p class="empty" id="nothing">Nothing to report: no log lines were read\.<\/p>/);
  assert.deepEqual(sectionIds(html), ['input']);
  assert.ok(!html.includes('<svg'));
  assert.doesNotMatch(html, /NaN|Infinity|undefined/);
  assert.match(html, /<title>Mail log report<\/title>/);
  const outside = renderHtml(variant((d) => { d.input.lines = 500; d.input.outside = 500; }, emptyReport()));
  assert.match(outside, /Nothing to report: none of the 500 lines read falls in the time range\./);
});

test('all-zero data: charts draw flat bars, no division by zero', () => {
  const html = renderHtml(variant((d) => { d.input.lines = 12; d.input.parsed = 12; d.perDay = [
    { period: '2026-07-18', received: 0, delivered: 0, deferred: 0, bounced: 0, rejected: 0 },
    { period: '2026-07-19', received: 0, delivered: 0, deferred: 0, bounced: 0, rejected: 0 }];
  d.topClients = [{ key: 'unknown[192.0.2.1]', connections: 0, messages: 0, rejects: 0 }];
  d.rejectsByReason = [{ key: 'Relay access denied', count: 0 }]; }, emptyReport()));
  assertBalanced(html);
  assert.doesNotMatch(html, /NaN|Infinity|undefined/);
  const hourly = element(html, 'svg', 'chart-hourly');
  assert.equal(count(hourly, 'class="bar '), 120);
  assert.equal(count(hourly, 'height="0"'), 120);
  assert.equal(count(element(html, 'svg', 'chart-daily'), 'height="0"'), 10);
  assert.equal(count(element(html, 'svg', 'chart-clients'), 'width="0"'), 2);
  assert.equal(count(element(html, 'svg', 'chart-rejects'), 'width="0"'), 1);
  assert.deepEqual(sectionIds(html), SECTIONS);
});

test('bad numbers (NaN, Infinity, negative) never reach the page as such', () => {
  const bad = variant((d) => {
    d.perHour[3].received = NaN; d.perHour[4].rejected = Infinity; d.perHour[5].delivered = -7;
    d.topClients[0].connections = Infinity; d.rejectsByReason[0].count = NaN;
    d.totals.rejectedPercent = NaN; d.deliveryDomains[0].avgDelay = -1; d.tls.inboundConnections = 0;
  });
  // JSON turns NaN and Infinity into null; put them back.
  const html = renderHtml({ ...bad, perHour: bad.perHour.map((r, i) => (i === 3 ? { ...r, received: NaN } : i === 4 ? { ...r, rejected: Infinity } : r)),
    topClients: bad.topClients.map((c, i) => (i === 0 ? { ...c, connections: Infinity } : c)),
    rejectsByReason: bad.rejectsByReason.map((r, i) => (i === 0 ? { ...r, count: NaN } : r)),
    totals: { ...bad.totals, rejectedPercent: NaN } });
  assertBalanced(html);
  assert.doesNotMatch(html, /NaN|Infinity|undefined|="-/);
  assert.match(element(html, 'section', 'tls'), /Inbound with TLS<\/th><td class="n">—<\/td>/);
  // One bad value draws as nothing and leaves the scale alone: 40 at 09 still fills the plot.
  const hourly = element(html, 'svg', 'chart-hourly');
  assert.match(hourly, /height="200" fill="#0072b2"><title>09:00–09:59: Received 40<\/title>/);
  assert.match(hourly, /height="0" fill="#d55e00"><title>04:00–04:59: Rejected 0<\/title>/);
  assert.match(element(html, 'svg', 'chart-clients'), /width="580" height="12" fill="#0072b2"><title>unknown\[203\.0\.113\.7\]: Connections 120<\/title>/);
});

test('limits: -h and -u cut tables and say so; --detail caps reasons and keys, 0 drops the sections', () => {
  const cut = renderHtml(sampleReport(), { topHosts: 1, topUsers: 1, detail: 1 });
  const delivery = element(cut, 'section', 'delivery-domains');
  assert.equal(count(delivery, '<tr><th scope="row">'), 1);
  assert.match(delivery, /2 more rows not shown \(limit 1\)/);
  assert.equal(count(element(cut, 'section', 'senders-count'), '<tr><th scope="row">'), 1);
  assert.equal(count(element(cut, 'section', 'top-clients'), '<tr><th scope="row">'), 1);
  const rejects = element(cut, 'section', 'rejects');
  assert.equal(count(rejects, '<tr class="reason">'), 2, 'one reason in each of the two groups');
  assert.equal(count(rejects, '<th scope="row" class="key">'), 2, 'one key under each');
  assert.match(rejects, /<tr class="more"><td colspan="2">1 more not shown<\/td><\/tr>/);
  // Charts keep their own cap, not the table limits.
  assert.equal(count(element(cut, 'svg', 'chart-clients'), 'class="bar s-received"'), 4);

  const none = renderHtml(sampleReport(), { detail: 0 });
  const ids = sectionIds(none);
  for (const id of ['deferrals', 'bounces', 'rejects', 'warnings', 'master', 'no-size']) assert.ok(!ids.includes(id), id);
  assert.ok(!none.includes('href="#rejects"'));
  assert.ok(ids.includes('rejects-by-reason'));
  assertBalanced(none);
});

test('problemsFirst moves the problem sections right after the grand totals', () => {
  const ids = sectionIds(renderHtml(sampleReport(), { problemsFirst: true }));
  assert.deepEqual(ids.slice(0, 4), ['totals', 'deferrals', 'bounces', 'rejects']);
  assert.ok(ids.indexOf('no-size') < ids.indexOf('charts'));
  assert.deepEqual([...ids].sort(), [...SECTIONS].sort());
});
