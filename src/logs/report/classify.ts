/**
 * @module logs/report/classify
 * Which program wrote a line, from the syslog tag: a Postfix daemon (and which), a policy service
 * or content filter we summarise (postgrey, policyd-spf, postfwd, policyd-weight, amavis, dovecot,
 * mxguard's policy service), or something else.
 *
 * Postfix program names (master.cf `syslog_name`, multi-instance `postfix-NAME`):
 *   postfix/smtpd, postfix/submission/smtpd, postfix/smtps/smtpd, postfix/relay/smtp,
 *   postfix/<any service>/smtpd, postfix-out/qmgr, postfix-smo/submission/smtpd, postfix-script.
 * The daemon is the last path component. mxguard writes the same names (its `syslog_name` is
 * `postfix` unless changed); `mxguard/<daemon>` is taken as well.
 *
 * pflogsumm 1.1.5 takes fewer: `postfix/<cmd>` or `postfix/{smtps,submission}/<cmd>` (or its
 * --syslog-name), and the bare `postfix` / `postfix-script`; its `cmd` is then everything after
 * that prefix (`relay/smtp` for `postfix/relay/smtp`). `pfCmd` is that name, or undefined for a
 * line pflogsumm skips; the collector uses it in --pflogsumm-compat mode.
 */
import { detach } from '../strings.js';

export type Family =
  | 'postfix'
  | 'postgrey'
  | 'policyd-spf'
  | 'postfwd'
  | 'policyd-weight'
  | 'amavis'
  | 'dovecot'
  | 'mxguard-policy'
  | 'other';

/** Daemons with their own rules in the collector (numbers: compared on every line). */
export const enum Daemon { Other, Smtpd, Postscreen, Cleanup, Qmgr, Master, Pickup, Smtp }

const DAEMONS: Readonly<Record<string, Daemon>> = {
  smtpd: Daemon.Smtpd, postscreen: Daemon.Postscreen, cleanup: Daemon.Cleanup, qmgr: Daemon.Qmgr,
  master: Daemon.Master, pickup: Daemon.Pickup, smtp: Daemon.Smtp,
};

/** daemonOf - the Daemon number of a command name (`relay/smtp` is Other, as for pflogsumm). */
export const daemonOf = (cmd: string | undefined): Daemon => (cmd === undefined ? Daemon.Other : DAEMONS[cmd] ?? Daemon.Other);

export interface Program {
  readonly family: Family;
  /** `daemon` as a number. */
  readonly kind: Daemon;
  /** `pfCmd` as a number. */
  readonly pfKind: Daemon;
  /** Postfix daemon (`smtpd`, `qmgr`, …) for the postfix family; the program name otherwise. */
  readonly daemon: string;
  /** pflogsumm's command name, undefined when pflogsumm ignores the program. */
  readonly pfCmd: string | undefined;
}

/** Non-Postfix programs by their first tag component (`postfwd2/policy` → postfwd). */
const OTHERS: Readonly<Record<string, Family>> = {
  postgrey: 'postgrey',
  'policyd-spf': 'policyd-spf',
  'postfix-policyd-spf-python': 'policyd-spf',
  'policyd-spf-perl': 'policyd-spf',
  postfwd: 'postfwd',
  postfwd2: 'postfwd',
  postfwd3: 'postfwd',
  'policyd-weight': 'policyd-weight',
  amavis: 'amavis',
  amavisd: 'amavis',
  'amavisd-new': 'amavis',
  dovecot: 'dovecot',
};

/** Daemon names under `postfix/` that are not Postfix: policy services logging as Postfix. */
const POLICY_UNDER_POSTFIX: Readonly<Record<string, Family>> = {
  'policyd-weight': 'policyd-weight',
  policy: 'mxguard-policy',
  'policyd-spf': 'policyd-spf',
};

export class ProgramClassifier {
  private readonly cache = new Map<string, Program>();
  constructor(private readonly syslogNames: readonly string[] = []) {}

  private lastName = '';
  private last: Program | undefined;

  classify(program: string): Program {
    // Program names come interned from the parser: the same string object line after line.
    if (program === this.lastName && this.last) return this.last;
    let p = this.cache.get(program);
    if (p === undefined) {
      p = this.compute(program);
      // Program names are few; a log full of random ones must not grow this without end.
      if (this.cache.size >= 2000) this.cache.clear();
      this.cache.set(detach(program), p);
    }
    this.lastName = program;
    this.last = p;
    return p;
  }

  private compute(program: string): Program {
    const pfCmd = this.pflogsummCmd(program);
    const slash = program.indexOf('/');
    const head = slash < 0 ? program : program.slice(0, slash);
    const daemon = program.slice(program.lastIndexOf('/') + 1);
    const postfixLike = head === 'postfix' || head.startsWith('postfix-') || head === 'mxguard'
      || this.syslogNames.some((n) => program.startsWith(`${n}/`) || program === n);
    if (postfixLike && !(head.startsWith('postfix-policyd') && slash < 0)) {
      const policy = slash >= 0 ? POLICY_UNDER_POSTFIX[daemon] : undefined;
      const kinds = { kind: daemonOf(daemon), pfKind: daemonOf(pfCmd) };
      if (policy) return { family: policy, daemon, pfCmd, ...kinds };
      return { family: 'postfix', daemon, pfCmd, ...kinds };
    }
    const fam = OTHERS[head] ?? (head.startsWith('amavis') ? 'amavis' : head.startsWith('dovecot') ? 'dovecot' : 'other');
    return { family: fam, daemon: head, pfCmd, kind: Daemon.Other, pfKind: daemonOf(pfCmd) };
  }

  /** pflogsumm's `cmd` for a program name, or undefined when it skips the line. */
  private pflogsummCmd(program: string): string | undefined {
    if (program === 'postfix' || program === 'postfix-script') return program;
    for (const base of ['postfix', ...this.syslogNames]) {
      if (!program.startsWith(`${base}/`)) continue;
      let rest = program.slice(base.length + 1);
      // The optional `smtps/` or `submission/` service step, when something follows it.
      for (const svc of ['smtps/', 'submission/']) {
        if (rest.startsWith(svc) && rest.length > svc.length) {
          rest = rest.slice(svc.length);
          break;
        }
      }
      return rest;
    }
    return undefined;
  }
}
