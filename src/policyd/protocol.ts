/**
 * @module policyd/protocol
 * Postfix's policy delegation protocol (SMTPD_POLICY_README): a request is `name=value` lines
 * ending in LF, closed by an empty line; the reply is `action=<access(5) action>` and an empty
 * line. This module knows bytes and attributes only: the request parser, the request →
 * TransactionContext mapping and the Decision → action mapping.
 *
 * Malformed input (a line without `=`, a name with white space, a request over the size limit,
 * a request other than `request=smtpd_access_policy`) is a protocol error: the server closes
 * the connection without a reply, as Postfix itself does with a bad policy reply; Postfix then
 * answers its client with a temporary error and reconnects.
 */
import type { Config } from '../config/config.js';
import type { Decision, Stage, TransactionContext } from '../engine/types.js';
import { replyLine } from '../smtp/reply.js';

export type PolicyRequest = ReadonlyMap<string, string>;

export class PolicyProtocolError extends Error {}

/**
 * RequestReader - cuts a byte stream into requests. push() returns the complete requests found;
 * it throws PolicyProtocolError on malformed input.
 */
export class RequestReader {
  private buf = '';
  private attrs = new Map<string, string>();
  private size = 0;
  constructor(private readonly limit: number) {}

  push(chunk: string): PolicyRequest[] {
    const out: PolicyRequest[] = [];
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      let line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.size += nl + 1;
      if (this.size > this.limit) throw new PolicyProtocolError(`request longer than ${this.limit} bytes`);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.attrs.size === 0) throw new PolicyProtocolError('empty request');
        out.push(this.attrs);
        this.attrs = new Map();
        this.size = 0;
        continue;
      }
      const eq = line.indexOf('=');
      if (eq <= 0) throw new PolicyProtocolError(`malformed attribute line "${line.slice(0, 60)}"`);
      const name = line.slice(0, eq);
      if (/[\s\x00-\x1f]/.test(name)) throw new PolicyProtocolError(`malformed attribute name "${name.slice(0, 60)}"`);
      this.attrs.set(name, line.slice(eq + 1));
    }
    if (this.size + this.buf.length > this.limit) throw new PolicyProtocolError(`request longer than ${this.limit} bytes`);
    return out;
  }
}

const STAGES: Record<string, Stage> = {
  CONNECT: 'connect', HELO: 'helo', EHLO: 'helo', MAIL: 'mail', RCPT: 'rcpt', VRFY: 'rcpt',
  DATA: 'data', 'END-OF-MESSAGE': 'eod', BDAT: 'eod', ETRN: 'etrn',
};

/** requestContext - the transaction a policy request describes (undefined values: not sent). */
export function requestContext(req: PolicyRequest, cfg: Config): TransactionContext {
  const a = (n: string) => { const v = req.get(n); return v === undefined || v === '' ? undefined : v; };
  const name = a('client_name') ?? 'unknown';
  const stage = STAGES[(req.get('protocol_state') ?? 'RCPT').toUpperCase()] ?? 'rcpt';
  const sasl = a('sasl_username');
  return {
    stage, config: cfg, service: 'policy',
    client: { address: a('client_address') ?? '', port: Number(a('client_port') ?? 0) || 0, name, reverseName: a('reverse_client_name') ?? name },
    helo: a('helo_name'),
    protocol: (req.get('protocol_name') ?? '').toUpperCase() === 'SMTP' ? 'SMTP' : 'ESMTP',
    tls: a('encryption_protocol') !== undefined,
    ...(sasl ? { sasl: { method: a('sasl_method') ?? 'PLAIN', username: sasl } } : {}),
    sender: req.get('sender') ?? (stage === 'connect' || stage === 'helo' ? undefined : ''),
    recipient: a('recipient'),
    recipientCount: Number(a('recipient_count') ?? 0) || 0,
    queueId: a('queue_id'),
    etrnDomain: a('etrn_domain'),
  };
}

/**
 * Postfix puts `<name>: Class rejected: ` in front of a policy's text itself; a reply of our
 * engine already carries it, so it is removed before the text goes back.
 */
function bareText(text: string): string {
  return text.replace(/^<[^>]*>: [A-Za-z -]+ rejected: /, '');
}

/**
 * decisionAction - the one access(5) action a Decision becomes: a reject as `NNN X.Y.Z text`,
 * DISCARD, a pending DEFER_IF_PERMIT, then HOLD, FILTER, REDIRECT, BCC, PREPEND, else DUNNO
 * (an engine accept never becomes OK: Postfix goes on with its own list).
 * XXX: Postfix takes one action per reply; when a decision asks for several (HOLD and PREPEND),
 * only the first in that order is sent.
 */
export function decisionAction(d: Decision): string {
  if (d.action === 'reject' && d.reply) {
    const line = replyLine(d.reply);
    const m = /^(\d{3})[ -](?:(\d\.\d{1,3}\.\d{1,3}) )?(.*)$/.exec(line);
    if (m) return `${m[1]}${m[2] ? ` ${m[2]}` : ''} ${bareText(m[3] ?? '')}`.trimEnd();
    return line;
  }
  if (d.action === 'discard') return 'DISCARD';
  if (d.deferIfPermit) {
    const line = replyLine(d.deferIfPermit);
    const m = /^\d{3}[ -](?:(\d\.\d{1,3}\.\d{1,3}) )?(.*)$/.exec(line);
    return m ? `DEFER_IF_PERMIT ${m[1] ? `${m[1]} ` : ''}${bareText(m[2] ?? '')}` : 'DEFER_IF_PERMIT';
  }
  const x = d.actions;
  if (x.hold) return 'HOLD';
  if (x.filter) return `FILTER ${x.filter}`;
  if (x.redirect) return `REDIRECT ${x.redirect}`;
  if (x.bcc) return `BCC ${x.bcc}`;
  if (x.prepend.length) return `PREPEND ${x.prepend[0]}`;
  return 'DUNNO';
}
