/**
 * @module logs/detect/findings
 * What `mxguard logs detect` reports: findings, each with the lines that show it and what to do.
 * The JSON output is an array of `Finding` as is, so field names are part of the interface: add
 * fields, do not rename them.
 */
import type { InputLine } from '../input.js';
import { detach } from '../strings.js';

export type Severity = 'high' | 'medium' | 'low';
export const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { high: 0, medium: 1, low: 2 };

export type FindingKind =
  | 'account-abuse'
  | 'web-script'
  | 'pickup-flood'
  | 'auth-brute-force'
  | 'auth-network'
  | 'auth-flood'
  | 'repeat-rejects'
  | 'backscatter'
  | 'null-sender-flood'
  | 'dnsbl-answers-all'
  | 'dnsbl-stopped';

/** One log line shown as evidence: where it is and what it says. */
export interface Evidence {
  readonly file: string;
  /** 1-based line number in its file. */
  readonly line: number;
  readonly text: string;
}

export interface Finding {
  /** `KIND:SUBJECT` (or KIND for kinds found once per run), unique within a run; ban lists refer to it. */
  readonly id: string;
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** Who or what: a SASL account, `uid 33 (www-data)`, a client address or network, a DNS list. */
  readonly subject: string;
  /** One line: what this is. */
  readonly title: string;
  /** Plain language: what happened, the numbers, the time span. */
  readonly summary: string;
  /** First and last line of the finding (ISO 8601). */
  readonly first: string;
  readonly last: string;
  /** A few representative lines (capped by --evidence). */
  readonly evidence: readonly Evidence[];
  /** Concrete steps, most urgent first. */
  readonly recommendation: readonly string[];
  /** Client addresses a firewall may block for this finding (what --ban-output writes). */
  readonly addresses: readonly string[];
  /** Numbers behind the summary, for scripts (kind-specific). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** evidenceOf - the kept form of an input line (its text copied, so the read buffer can go). */
export function evidenceOf(l: InputLine): Evidence {
  return { file: l.file, line: l.lineNo, text: detach(l.raw) };
}

/** asEvidence - an input line made evidence, or evidence as it is. */
export function asEvidence(l: InputLine | Evidence): Evidence {
  return 'raw' in l ? evidenceOf(l) : l;
}

/**
 * Representative lines of one subject: the first ones, and always the latest (replaced as new
 * lines come), so the evidence shows how it started and that it went on. Lines can be tagged so
 * that one kind of line (say, the hundredth identical reject) does not crowd out another (the
 * bounce that shows what the mail was).
 */
export class EvidenceList {
  private readonly firstLines: Array<{ ev: Evidence; tag: string }> = [];
  private latest: Evidence | undefined;
  private promoted: boolean;

  /**
   * `preCap`: for keys that may never become a finding (one of thousands of client addresses),
   * keep only that many first lines and no latest line until `promote()` (threshold reached), so
   * the many keys that never make a finding cost little memory.
   */
  constructor(private readonly cap: number, private readonly preCap = Number.POSITIVE_INFINITY) {
    this.promoted = preCap >= cap;
  }

  /** promote - the key became a finding: keep lines up to the full cap from now on. */
  promote(): void { this.promoted = true; }

  /** add - offers a line; `perTag` limits how many of the first lines may carry `tag`. */
  add(l: InputLine | Evidence, tag = '', perTag = Number.POSITIVE_INFINITY): void {
    if (!this.promoted) {
      if (this.firstLines.length < this.preCap) this.firstLines.push({ ev: asEvidence(l), tag });
      return;
    }
    if (this.firstLines.length < Math.max(1, this.cap - 1)) {
      let same = 0;
      for (const f of this.firstLines) if (f.tag === tag) same++;
      if (same < perTag) {
        this.firstLines.push({ ev: asEvidence(l), tag });
        return;
      }
    }
    // Keep the latest line only when it is not one of the first ones.
    if (this.cap > 1) this.latest = asEvidence(l);
  }

  /** lines - the kept lines in log order (files read in order, then line numbers). */
  lines(): Evidence[] {
    const out = this.firstLines.map((f) => f.ev);
    if (this.latest) out.push(this.latest);
    return out;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** stamp - a time as the log writes it (`May  9 22:12:29`, local time), so it can be found in the log. */
export function stamp(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** duration - a span in words: `40 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** span - "between A and B (N)" or "at A" for a single moment. */
export function span(first: number, last: number): string {
  if (last - first < 1000) return `at ${stamp(first)}`;
  return `between ${stamp(first)} and ${stamp(last)} (${duration(last - first)})`;
}

/** plural - `1 message`, `3 messages`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** listOf - `a`, `a and b`, `a, b and 3 more`. */
export function listOf(items: readonly string[], max = 5): string {
  if (items.length === 0) return '';
  const shown = items.slice(0, max);
  const rest = items.length - shown.length;
  if (rest > 0) return `${shown.join(', ')} and ${rest} more`;
  if (shown.length === 1) return shown[0]!;
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** Inputs of `makeFinding`; `first`/`last` are epoch ms. */
export interface FindingInput {
  /** Default `KIND:SUBJECT`; kinds with one finding per run use the kind alone. */
  readonly id?: string;
  readonly kind: FindingKind;
  readonly severity: Severity;
  readonly subject: string;
  readonly title: string;
  readonly summary: string;
  readonly first: number;
  readonly last: number;
  readonly evidence: readonly Evidence[];
  readonly recommendation: readonly string[];
  readonly addresses?: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;
}

export function makeFinding(f: FindingInput): Finding {
  return {
    id: f.id ?? `${f.kind}:${f.subject}`,
    kind: f.kind,
    severity: f.severity,
    subject: f.subject,
    title: f.title,
    summary: f.summary,
    first: new Date(f.first).toISOString(),
    last: new Date(f.last).toISOString(),
    evidence: f.evidence,
    recommendation: f.recommendation,
    addresses: f.addresses ?? [],
    details: f.details ?? {},
  };
}

/** sortFindings - most severe first, then the kind's order, then the largest count, then subject. */
export function sortFindings(fs: Finding[]): Finding[] {
  const weight = (f: Finding): number => (typeof f.details['count'] === 'number' ? (f.details['count'] as number) : 0);
  return fs.sort((a, b) =>
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]
    || a.kind.localeCompare(b.kind)
    || weight(b) - weight(a)
    || a.subject.localeCompare(b.subject, 'en', { numeric: true }));
}
