/**
 * @module logs/detect/sessions
 * smtpd sessions rebuilt from the log: the lines of one process (`PROGRAM[PID]`) about one client
 * between `connect from` and `disconnect from` are one session. Detectors want
 * sessions rather than lines: a failed AUTH shows up as a `SASL … authentication failed` warning,
 * a `lost connection after AUTH`, and `auth=0/1` in the disconnect counters, and is one attempt;
 * a client that got ten RCPT rejects in one session was told "no" once, not ten times.
 *
 * A line with no open session (the log began mid-session, or the connect line was filtered out)
 * opens one. Sessions still open when the input ends are closed then. At most `cap` sessions are open
 * at once; beyond that the ones without a line for longest are closed as they are (lost disconnect lines).
 */
import type { InputLine } from '../input.js';
import { LruMap } from './bounded.js';
import { detach, intern } from '../strings.js';
import { evidenceOf, type Evidence } from './findings.js';

export interface Session {
  readonly id: number;
  /** `postfix/smtpd`, `postfix/submission/smtpd`, …: which service the client talked to. */
  readonly program: string;
  readonly ip: string;
  readonly name: string;
  readonly start: number;
  end: number;
  /** `SASL … authentication failed` warnings. */
  authFailures: number;
  /** Failed AUTH commands from the disconnect counters (`auth=0/3`: 3). */
  authCounted: number;
  /** A successful AUTH (disconnect counters `auth=1`, or a `sasl_username=` line). */
  authOk: boolean;
  /** The command after which the client vanished (`lost connection after AUTH`: `AUTH`). */
  lostAfter?: string;
  /** The first line that shows AUTH trouble (kept only for such sessions). */
  authEvidence?: Evidence;
  /** Login names tried, when Postfix logs them (`, sasl_username=…` on failures, Postfix ≥ 3.?). */
  triedNames?: string[];
  /** 5xx rejects in the session. */
  rejects: number;
  /** The last HELO name seen in a line of the session. */
  helo?: string;
  /** The SASL login of the session, once a `client=…, sasl_username=` line named it. */
  sasl?: string;
}

export class SessionTracker {
  /**
   * Open sessions by `PID ADDRESS`. Postfix's smtpd serves one client per process, so the pid
   * would do; mxguard serves every client from one process (one pid in all its lines), so the
   * client address tells its sessions apart. A hit whose host or program differs is another
   * process that happens to share the pid (logs of several hosts) and replaces it. Past the cap,
   * the sessions without a line for longest are closed as they are.
   * XXX two concurrent mxguard sessions from one address are taken for one.
   */
  private readonly open: LruMap<string, Session & { readonly host: string }>;
  private nextId = 1;

  constructor(cap: number, private readonly onEnd: (s: Session) => void) {
    this.open = new LruMap(cap, (_k, s) => this.onEnd(s));
  }

  private static key(l: InputLine, ip: string): string {
    return `${l.pid ?? 0} ${ip}`;
  }

  /** start - a `connect from` line: ends the process's previous session, opens a new one. */
  start(l: InputLine, name: string, ip: string, t: number): Session {
    const k = SessionTracker.key(l, ip);
    const old = this.open.peek(k);
    if (old) {
      this.open.delete(k);
      this.onEnd(old);
    }
    // Copies: an open session must not pin the read chunk its line was cut from (bounded.ts).
    const s = { id: this.nextId++, host: intern(l.host), program: intern(l.program), ip: detach(ip), name: detach(name), start: t, end: t, authFailures: 0, authCounted: 0, authOk: false, rejects: 0 };
    this.open.set(detach(k), s);
    return s;
  }

  /** of - the open session of the line's process for this client (opened if there is none). */
  of(l: InputLine, name: string, ip: string, t: number): Session {
    const s = this.open.touch(SessionTracker.key(l, ip));
    if (s && s.program === l.program && s.host === l.host) {
      s.end = t;
      return s;
    }
    return this.start(l, name, ip, t);
  }

  /** finish - a `disconnect from` line: closes the session. */
  finish(l: InputLine, name: string, ip: string, t: number): Session {
    const s = this.of(l, name, ip, t);
    this.open.delete(SessionTracker.key(l, ip));
    this.onEnd(s);
    return s;
  }

  /** closeAll - the end of the input: every open session ends as it is. */
  closeAll(): void {
    for (const s of [...this.open.values()]) this.onEnd(s);
  }

  /** noteAuthTrouble - keeps the first line that shows a failed or abandoned AUTH. */
  static noteAuthTrouble(s: Session, l: InputLine): void {
    if (!s.authEvidence) s.authEvidence = evidenceOf(l);
  }

  get evicted(): number { return this.open.evicted; }
}
