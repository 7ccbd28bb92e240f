/**
 * @module logs/trace
 * Follows one message through Postfix-format logs in a single pass: `mxguard logs trace`.
 *
 * Query: a queue id; an address (matched in `from=<>`, `to=<>`, `orig_to=<>`); a client IP (matched
 * in `client=NAME[IP]` and in NOQUEUE lines' `from NAME[IP]`); or a message-id in angle brackets
 * (matched in `message-id=`). Every line of a matching queue id is kept, and the trace follows:
 *   - re-injection after a content filter: a delivery line `status=sent (… queued as NEWID)`;
 *   - bounces: `sender non-delivery notification: NEWID`;
 *   - the smtpd session before `ID: client=`: the same smtpd process's `NOQUEUE:` and other
 *     id-less lines since its `connect from` (or its previous message), so a `reject_warning`
 *     logged at RCPT time is shown with the message it let in.
 *
 * Memory: lines of a queue id are held only until its `removed` line; an id that never matched is
 * then dropped. Session buffers are cleared at each `connect from`/`client=`/`disconnect` and
 * capped at SESSION_CAP lines.
 * XXX a link found after the parent id was removed (the child matched only later) is not followed
 * backwards: the parent's lines are gone by then.
 *
 * Tracing by queue id takes a fast path: only lines that contain a traced id are parsed; the others
 * go into a ring of the last RING_SIZE raw lines. When an id joins the trace (a content-filter hop,
 * a bounce, a parent) its earlier lines, and the smtpd session before its `client=` line, are taken
 * from that ring. Hops and sessions are seconds apart, so the ring holds them; a parent whose
 * earlier lines are more than RING_SIZE lines back is shown from the linking line on.
 */
import { isIP } from 'node:net';
import { scanLogs, type InputLine, type LogInputOptions, type LogInputStats } from './input.js';
import { isQueueId, parseLine, type LogLine } from './parse.js';
import { detach } from './strings.js';

export type TraceQuery =
  | { readonly kind: 'id'; readonly value: string }
  | { readonly kind: 'address'; readonly value: string }
  | { readonly kind: 'ip'; readonly value: string }
  | { readonly kind: 'message-id'; readonly value: string };

/** A kept line with its place in the input, for a stable order. */
export interface TracedLine extends InputLine {
  /** Position in the whole input, for a stable order among lines with the same stamp. */
  readonly seq: number;
}

export interface TraceResult {
  /** Matching lines, ordered by time, then by input order. */
  readonly lines: readonly TracedLine[];
  /** Traced queue ids in the order they were first seen. */
  readonly ids: readonly string[];
  readonly summary: readonly string[];
  readonly stats: LogInputStats;
}

const SESSION_CAP = 200;

/** classifyQuery - what kind of thing the user asked for. */
export function classifyQuery(q: string): TraceQuery {
  if (isIP(q)) return { kind: 'ip', value: q };
  if (q.startsWith('<') && q.endsWith('>')) return { kind: 'message-id', value: q };
  if (isQueueId(q, 0, q.length)) return { kind: 'id', value: q };
  return { kind: 'address', value: q.toLowerCase() };
}

const ADDR_RE = /(?:^|[\s,])(?:from|to|orig_to)=<([^>]*)>/g;
const CLIENT_RE = /\bclient=[^\s[]*\[([^\]]+)\]/;
const NOQUEUE_CLIENT_RE = /\bfrom [^\s[]*\[([^\]]+)\]/;
const MSGID_RE = /\bmessage-id=(<[^>]*>|\S+)/;
const QUEUED_AS_RE = /\bstatus=sent \(.*\bqueued as ([0-9A-Za-z]+)\)/;
const BOUNCE_RE = /\bsender (?:non-delivery|delay|delivery status) notification: ([0-9A-Za-z]+)/;

/** lineMatches - does this line mention the queried address, client or message-id? */
function lineMatches(q: TraceQuery, l: LogLine): boolean {
  switch (q.kind) {
    case 'id': return l.queueId === q.value;
    case 'address':
      for (const m of l.text.matchAll(ADDR_RE)) if (m[1]!.toLowerCase() === q.value) return true;
      return MSGID_RE.exec(l.text)?.[1] === `<${q.value}>`;
    case 'ip': {
      const m = (l.queueId ? CLIENT_RE : NOQUEUE_CLIENT_RE).exec(l.text);
      return m?.[1] === q.value;
    }
    case 'message-id': return MSGID_RE.exec(l.text)?.[1] === q.value;
  }
}

const isSmtpd = (l: LogLine): boolean => l.program.endsWith('smtpd') && (l.program.length === 5 || l.program.charCodeAt(l.program.length - 6) === 47 /* / */);
const sessionKey = (l: LogLine): string => `${l.host} ${l.program} ${l.pid ?? ''}`;

interface IdRecord {
  lines: TracedLine[];
  matched: boolean;
}

/** Links between queue ids (content-filter hops, bounces) kept at most; the oldest go first. */
const LINK_CAP = 200_000;

/**
 * own - the line with text of its own (logs/strings): a trace keeps lines of every message in
 * flight, and their strings are otherwise views of the reader's chunk.
 */
function own(l: InputLine, seq: number): TracedLine {
  const raw = detach(l.raw);
  const text = raw.slice(raw.length - l.text.length);
  return { time: l.time, host: l.host, program: l.program, pid: l.pid, queueId: l.queueId, text, raw, file: l.file, lineNo: l.lineNo, seq };
}

/** Raw lines remembered for the queue-id fast path (about 35 MB of a typical log). */
const RING_SIZE = 1 << 18;

/** The last RING_SIZE raw lines that were not parsed, with what is needed to parse them later. */
class LineRing {
  private readonly raw: string[] = new Array<string>(RING_SIZE);
  private readonly file: string[] = new Array<string>(RING_SIZE);
  private readonly now: Date[] = new Array<Date>(RING_SIZE);
  private readonly lineNo = new Int32Array(RING_SIZE);
  private readonly seq = new Float64Array(RING_SIZE);
  private n = 0;

  push(raw: string, file: string, lineNo: number, now: Date, seq: number): void {
    const i = this.n++ & (RING_SIZE - 1);
    this.raw[i] = raw;
    this.file[i] = file;
    this.now[i] = now;
    this.lineNo[i] = lineNo;
    this.seq[i] = seq;
  }

  /** The remembered lines containing `needle`, oldest first, parsed. */
  find(needle: string): TracedLine[] {
    const out: TracedLine[] = [];
    for (let k = Math.max(0, this.n - RING_SIZE); k < this.n; k++) {
      const i = k & (RING_SIZE - 1);
      if (this.raw[i]!.includes(needle)) {
        const l = this.at(i);
        if (l) out.push(l);
      }
    }
    return out;
  }

  /**
   * The NOQUEUE lines of the smtpd session of `client` (an `ID: client=` line) since its
   * `connect from` or its previous message, oldest first.
   */
  session(client: TracedLine): TracedLine[] {
    const out: TracedLine[] = [];
    const tag = `${client.program}[${client.pid}]: `;
    let seen = 0;
    for (let k = this.n - 1; k >= Math.max(0, this.n - RING_SIZE) && seen < SESSION_CAP; k--) {
      const i = k & (RING_SIZE - 1);
      if (this.seq[i]! >= client.seq || !this.raw[i]!.includes(tag)) continue;
      const l = this.at(i);
      if (!l || l.host !== client.host || l.program !== client.program || l.pid !== client.pid) continue;
      seen++;
      if (l.text.startsWith('connect from ') || l.text.startsWith('disconnect from ') || (l.queueId && l.text.startsWith('client=', l.queueId.length + 2))) break;
      if (l.text.startsWith('NOQUEUE: ')) out.unshift(l);
    }
    return out;
  }

  private at(i: number): TracedLine | undefined {
    const raw = this.raw[i]!;
    const p = parseLine(raw, { now: this.now[i]! });
    if (!p) return undefined;
    return own({ ...p, raw, file: this.file[i]!, lineNo: this.lineNo[i]! }, this.seq[i]!);
  }
}

/** trace - reads the input once and returns the lines and summary of the queried message(s). */
export async function trace(query: TraceQuery, input: LogInputOptions, opts: { readonly fast?: boolean } = {}): Promise<TraceResult> {
  const records = new Map<string, IdRecord>();
  /** id → ids it is linked with, both ways; may name ids never seen (a remote `queued as`). */
  const links = new Map<string, Set<string>>();
  const matched = new Set<string>();
  const sessions = new Map<string, TracedLine[]>();
  const kept: TracedLine[] = [];
  const order: string[] = [];
  let seq = 0;
  let lineSeq = 0;
  // The fast path parses only some lines, so it cannot say which lines are not understood (--strict).
  const ring = query.kind === 'id' && opts.fast !== false ? new LineRing() : undefined;

  const record = (id: string): IdRecord => {
    let r = records.get(id);
    if (!r) {
      r = { lines: [], matched: matched.has(id) };
      records.set(id, r);
    }
    return r;
  };
  const link = (a: string, b: string): void => {
    let s = links.get(a);
    if (!s) {
      if (links.size >= LINK_CAP) links.delete(links.keys().next().value!);
      links.set(a, (s = new Set()));
    }
    s.add(b);
  };
  const markMatched = (id: string): void => {
    if (matched.has(id)) return;
    matched.add(id);
    order.push(id);
    const r = records.get(id);
    if (r) r.matched = true;
    // Fast path: the lines of this id that went by unparsed before it joined the trace.
    if (ring) for (const l of ring.find(id)) if (l.queueId === id) onIdLine(l);
    for (const other of links.get(id) ?? []) markMatched(other);
  };

  /** onIdLine - a line with a queue id: kept with its id; links followed. */
  const onIdLine = (l: TracedLine): void => {
    const id = l.queueId!;
    const r = record(id);
    if (isSmtpd(l) && l.text.startsWith('client=', id.length + 2)) {
      if (ring) r.lines.push(...ring.session(l));
      else {
        const key = sessionKey(l);
        for (const s of sessions.get(key) ?? []) r.lines.push(s);
        sessions.set(key, []);
      }
    }
    r.lines.push(l);
    if (!r.matched && lineMatches(query, l)) markMatched(id);
    const next = QUEUED_AS_RE.exec(l.text)?.[1] ?? BOUNCE_RE.exec(l.text)?.[1];
    if (next && next !== id) {
      link(id, next);
      link(next, id);
      if (r.matched) markMatched(next);
      else if (matched.has(next)) markMatched(id);
    }
    if (!r.matched && l.text.endsWith(': removed')) {
      records.delete(id);
      links.delete(id);
    }
  };

  const prefilter = (raw: string, file: string, lineNo: number, now: Date): boolean => {
    lineSeq = seq++;
    if (!ring) return true;
    for (const id of matched) if (raw.includes(id)) return true;
    ring.push(raw, file, lineNo, now, lineSeq);
    return false;
  };
  if (query.kind === 'id') markMatched(query.value);

  const stats = await scanLogs({ ...input, prefilter }, (line) => {
    if (line.queueId) {
      onIdLine(own(line, lineSeq));
      return;
    }
    if (isSmtpd(line)) {
      const key = sessionKey(line);
      if (line.text.startsWith('disconnect from ')) sessions.delete(key);
      else {
        let buf = sessions.get(key);
        if (!buf || line.text.startsWith('connect from ')) sessions.set(key, (buf = []));
        // Only NOQUEUE lines are ever attached to a message; the rest of a session is not kept.
        if (buf.length < SESSION_CAP && line.text.startsWith('NOQUEUE: ')) buf.push(own(line, lineSeq));
      }
    }
    if (query.kind !== 'id' && line.text.startsWith('NOQUEUE: ') && lineMatches(query, line)) kept.push(own(line, lineSeq));
  });

  for (const id of order) {
    const r = records.get(id);
    if (r) {
      r.lines.sort((a, b) => a.seq - b.seq); // lines taken from the ring came in late
      kept.push(...r.lines);
    }
  }
  const seen = new Set<number>();
  const lines = kept.filter((l) => !seen.has(l.seq) && seen.add(l.seq))
    .sort((a, b) => a.time.getTime() - b.time.getTime() || a.seq - b.seq);
  const ids = order.filter((id) => (records.get(id)?.lines.length ?? 0) > 0);
  return { lines, ids, summary: summarize(ids, records, links, lines), stats };
}

/** afterId - the text of a line without its `ID: ` prefix. */
const afterId = (l: LogLine): string => (l.queueId ? l.text.slice(l.queueId.length + 2) : l.text);
const field = (text: string, name: string): string | undefined =>
  new RegExp(`(?:^|[\\s,])${name}=([^,\\s]+(?: \\([^)]*\\))?)`).exec(text)?.[1];

/** summarize - plain-language account of each traced id, then every reject_warning. */
function summarize(ids: readonly string[], records: Map<string, IdRecord>, links: Map<string, Set<string>>, lines: readonly TracedLine[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const facts: string[] = [];
    for (const l of records.get(id)!.lines) {
      if (l.queueId !== id) continue;
      const t = afterId(l);
      let m: RegExpExecArray | null;
      if ((m = /^client=(\S+)/.exec(t))) facts.push(`accepted from ${m[1]}`);
      else if (/^uid=\d+ from=/.test(t)) facts.push(`accepted from local submission (${t})`);
      else if ((m = /^(?:milter-)?reject: (.*)$/.exec(t))) facts.push(`rejected: ${m[1]}`);
      else if ((m = /^(?:milter-)?discard: (.*)$/.exec(t))) facts.push(`discarded: ${m[1]}`);
      else if ((m = /^(?:milter-)?hold: (.*)$/.exec(t))) facts.push(`put on hold: ${m[1]}`);
      else if ((m = BOUNCE_RE.exec(t))) facts.push(`bounced: a notification to the sender was queued as ${m[1]}`);
      else if (/\bstatus=/.test(t)) {
        const to = /(?:^|[\s,])to=(<[^>]*>)/.exec(t)?.[1] ?? '?';
        const relay = field(t, 'relay') ?? '?';
        const status = /\bstatus=(\w+)(?: \((.*)\))?$/.exec(t);
        const state = status?.[1] ?? '?';
        const detail = status?.[2] ?? '';
        const hop = QUEUED_AS_RE.exec(t)?.[1];
        if (state === 'sent' && hop) facts.push(`handed to ${relay} for ${to} (content filter or next hop), re-queued as ${hop}`);
        else if (state === 'sent') facts.push(`delivered to ${to} via ${relay}: ${detail}`);
        else if (state === 'bounced') facts.push(`bounced for ${to} via ${relay}: ${detail}`);
        else facts.push(`${state} for ${to} via ${relay}: ${detail}`);
      }
    }
    const parents = [...(links.get(id) ?? [])].filter((p) => records.get(p)?.lines.some((l) => l.queueId === p && QUEUED_AS_RE.exec(l.text)?.[1] === id));
    if (parents.length > 0) facts.unshift(`re-injected from ${parents.join(', ')}`);
    out.push(`${id}: ${facts.length > 0 ? facts.join('; ') : 'no outcome logged'}`);
  }
  for (const l of lines) {
    const m = /\breject_warning: (.*)$/.exec(l.text);
    if (m) {
      out.push(`warning (${l.queueId ?? 'NOQUEUE'}): a restriction would have rejected this message but warn_if_reject turned it into a warning: ${m[1]}`);
    }
  }
  const noqueueRejects = lines.filter((l) => !l.queueId && /^NOQUEUE: reject: /.test(l.text));
  for (const l of noqueueRejects) out.push(`rejected before queueing: ${l.text.slice('NOQUEUE: reject: '.length)}`);
  if (out.length === 0) out.push('nothing matched');
  return out;
}

/** formatLine - one kept line as it appeared in the log, prefixed with its file when several were read. */
export function formatLine(l: TracedLine, withFile = false): string {
  return withFile ? `${l.file}: ${l.raw}` : l.raw;
}
