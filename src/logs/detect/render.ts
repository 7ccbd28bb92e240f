/**
 * @module logs/detect/render
 * The text form of the findings: one block per finding (headline, summary, evidence lines, what
 * to do, addresses), most severe first. Kinds that produce one finding per client address can
 * produce hundreds on a busy server: past --limit per kind, the rest are named in one line (the
 * JSON and ban outputs always have them all).
 */
import type { LogInputStats } from '../input.js';
import { span, type Finding } from './findings.js';

const WIDTH = 100;

/** wrap - words of `text` in lines of at most WIDTH columns, each starting with `indent`. */
export function wrap(text: string, indent: string, first = indent): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    if (!empty && line.length + 1 + word.length > WIDTH) {
      out.push(line);
      line = indent + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  if (!empty) out.push(line);
  return out;
}

function block(f: Finding): string[] {
  const out = [`[${f.severity.toUpperCase()}] ${f.kind}: ${f.subject}`, `  ${f.title}`];
  out.push(...wrap(f.summary, '  '));
  if (f.evidence.length) {
    out.push('  Evidence:');
    for (const e of f.evidence) out.push(`    ${e.file === '-' ? 'stdin' : e.file}:${e.line}: ${e.text}`);
  }
  if (f.recommendation.length) {
    out.push('  What to do:');
    for (const r of f.recommendation) out.push(...wrap(r, '      ', '    - '));
  }
  if (f.addresses.length) {
    const shown = f.addresses.slice(0, 20).join(' ');
    out.push(...wrap(`${shown}${f.addresses.length > 20 ? ` … (${f.addresses.length} in all; --ban-output lists them)` : ''}`, '      ', '  Addresses: '));
  }
  return out;
}

/** renderText - the report for standard output. `limit` 0 shows every finding. */
export function renderText(findings: readonly Finding[], stats: LogInputStats, limit: number): string {
  const out: string[] = [];
  const range = stats.first && stats.last ? ` ${span(stats.first.getTime(), stats.last.getTime())}` : '';
  const lines = `${stats.lines.toLocaleString('en-US')} lines${range}`;
  if (findings.length === 0) {
    out.push(`mxguard logs detect: no findings in ${lines}.`);
    return `${out.join('\n')}\n`;
  }
  const counts = { high: 0, medium: 0, low: 0 };
  for (const f of findings) counts[f.severity]++;
  const sev = (['high', 'medium', 'low'] as const).filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(', ');
  out.push(`mxguard logs detect: ${findings.length} finding${findings.length === 1 ? '' : 's'} (${sev}) in ${lines}.`);
  const shownPerKind = new Map<string, number>();
  const hidden = new Map<string, string[]>();
  for (const f of findings) {
    const n = shownPerKind.get(f.kind) ?? 0;
    if (limit > 0 && n >= limit) {
      const h = hidden.get(f.kind) ?? [];
      h.push(f.subject);
      hidden.set(f.kind, h);
      continue;
    }
    shownPerKind.set(f.kind, n + 1);
    out.push('', ...block(f));
  }
  for (const [kind, subjects] of hidden) {
    out.push('', ...wrap(`… and ${subjects.length} more ${kind} finding${subjects.length === 1 ? '' : 's'} (--limit 0 shows them, --json lists them): ${subjects.slice(0, 30).join(' ')}${subjects.length > 30 ? ' …' : ''}`, '  ', ''));
  }
  return `${out.join('\n')}\n`;
}
