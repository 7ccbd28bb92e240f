/**
 * @module screen/dummy
 * The stand-in SMTP engine for a client that postscreen_dnsbl_action = enforce blocked
 * (postscreen_smtpd.c): it speaks enough SMTP to learn the HELO name, sender and recipients for
 * the log, answers each RCPT TO (and VRFY) with the block reply, and never accepts mail. The
 * client never reaches the real session. Every read has a timeout ($smtpd_timeout) and the
 * number of commands is bounded.
 *
 * Replies are postscreen's: `250 2.1.0 Ok` to MAIL, the block reply to RCPT, `554 5.5.1 Error: no
 * valid recipients` to DATA, `458 Unable to queue messages` to ETRN, `221 2.0.0 Bye` to QUIT.
 * Log: `NOQUEUE: reject: RCPT from [ADDR]:PORT: 550 5.7.1 …; from=<S>, to=<R>, proto=ESMTP, helo=<H>`.
 *
 * Deep protocol tests (postscreen_smtpd.c, POSTSCREEN_README "Tests after the 220 SMTP server
 * greeting"), when `deep` is given:
 * - pipelining: a command followed by input the client sent before seeing the reply (this engine
 *   never announces PIPELINING): `COMMAND PIPELINING from [ADDR]:PORT after VERB: text`;
 * - non-SMTP command: a verb of $postscreen_forbidden_commands or a header line ("Name: …"):
 *   `NON-SMTP COMMAND from [ADDR]:PORT after VERB: text`.
 * drop: 521 and disconnect; enforce: the RCPT reply becomes `550 5.5.1 Protocol error` (unless an
 * earlier test set one); ignore: logged, counted as passed. A new client that reaches RCPT TO with
 * no failure passes (onDeepPass) and is told `450 4.3.2 Service currently unavailable`: it must
 * reconnect, and then goes straight to the real session (postscreen is not a proxy).
 * A client that hangs up is logged `HANGUP after T from [ADDR]:PORT in tests after SMTP handshake`.
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { InputReader } from '../smtp/reader.js';
import { printable, seconds } from './pregreet.js';

/** Postfix postscreen's command limit (postscreen_command_count_limit default). */
const COMMAND_LIMIT = 20;

export type ScreenAction = 'ignore' | 'enforce' | 'drop';

export interface DeepTests {
  readonly pipelining?: ScreenAction;
  readonly nonSmtp?: ScreenAction;
  /** Verbs of the non-SMTP command test ($postscreen_forbidden_commands). */
  readonly forbidden?: readonly string[];
}

export interface DummyOptions {
  readonly config: Config;
  /**
   * The full block reply line without CRLF, e.g. `550 5.7.1 Service unavailable; client [a] blocked using l`.
   * Undefined only with `deep`: no test failed yet.
   */
  readonly rcptReply?: string;
  /** Deep protocol tests still to pass. */
  readonly deep?: DeepTests;
  /** Called once, at the first RCPT TO, when the deep tests passed (ignored failures count as passed). */
  readonly onDeepPass?: () => void | Promise<void>;
  readonly clientAddrPort: string;
  readonly log: (text: string) => void;
}

/** runDummyEngine - greets, answers until QUIT, a timeout, the command limit or end of input. */
export async function runDummyEngine(socket: Socket, o: DummyOptions): Promise<void> {
  const cfg = o.config;
  const host = cfg.get('myhostname');
  const reader = new InputReader(socket);
  const write = (line: string) => { if (!socket.destroyed) socket.write(line + '\r\n'); };
  const soft = (r: string) => (cfg.bool('soft_bounce') ? r.replace(/^5/, '4').replace(/^(\d{3} )5/, '$14') : r);
  let helo: string | undefined;
  let sender: string | undefined;
  let proto = 'SMTP';
  let rcptReply = o.rcptReply;
  let pipeTodo = o.deep?.pipelining !== undefined;
  let nsmtpTodo = o.deep?.nonSmtp !== undefined;
  const forbidden = new Set((o.deep?.forbidden ?? []).map((v) => v.toUpperCase()));
  let deepPassed = false;
  let lastVerb = 'CONNECT';
  const started = Date.now();
  /** A deep test failed: true when the session must end now (drop). */
  const failed = (action: ScreenAction, dropReply: string): boolean => {
    if (action === 'drop') { write(dropReply); return true; }
    if (action === 'enforce') rcptReply ??= '550 5.5.1 Protocol error';
    return false;
  };
  write(`220 ${cfg.get('smtpd_banner')}`);
  const timeout = cfg.time('smtpd_timeout') * 1000;
  try {
    for (let n = 0; ; n++) {
      if (n >= COMMAND_LIMIT) {
        o.log(`COMMAND COUNT LIMIT from ${o.clientAddrPort}`);
        // XXX wording of postscreen's reply not verified against a live Postfix.
        write(`421 4.7.0 ${host} Error: too many commands`);
        return;
      }
      const r = await reader.readLine(4096, timeout);
      if (r.kind === 'timeout') { o.log(`COMMAND TIME LIMIT from ${o.clientAddrPort}`); write(`421 4.4.2 ${host} Error: timeout exceeded`); return; }
      if (r.kind === 'eof') { o.log(`HANGUP after ${seconds(Date.now() - started)} from ${o.clientAddrPort} in tests after SMTP handshake`); return; }
      if (r.kind !== 'line' && r.kind !== 'bare-newline' && r.kind !== 'too-long') return;
      if (r.kind !== 'line') { write('500 5.5.2 Error: bad syntax'); continue; }
      const line = r.line.toString('latin1');
      const m = /^(\S+)\s*(.*)$/.exec(line);
      const verb = (m?.[1] ?? '').toUpperCase();
      if (nsmtpTodo && (forbidden.has(verb) || /^[!-9;-~]+:/.test(line))) {
        nsmtpTodo = false;
        o.log(`NON-SMTP COMMAND from ${o.clientAddrPort} after ${lastVerb}: ${printable(r.line)}`);
        if (failed(o.deep!.nonSmtp!, '521 5.7.0 Error: I can break rules, too. Goodbye.')) return;
      }
      if (pipeTodo && reader.pending > 0) {
        pipeTodo = false;
        o.log(`COMMAND PIPELINING from ${o.clientAddrPort} after ${verb}: ${printable(reader.peek(100))}`);
        if (failed(o.deep!.pipelining!, '521 5.5.1 Protocol error')) return;
      }
      lastVerb = verb || lastVerb;
      const arg = (m?.[2] ?? '').trim();
      const word = arg.split(/\s+/)[0] ?? '';
      switch (verb) {
        case 'HELO':
          if (!word) { write('501 Syntax: HELO hostname'); break; }
          helo = word; sender = undefined;
          write(`250 ${host}`);
          break;
        case 'EHLO': {
          if (!word) { write('501 Syntax: EHLO hostname'); break; }
          helo = word; sender = undefined; proto = 'ESMTP';
          const ext = [`SIZE ${cfg.int('message_size_limit')}`, ...(cfg.bool('disable_vrfy_command') ? [] : ['VRFY']), 'ETRN', 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN'];
          write([host, ...ext].map((e, i, a) => `250${i === a.length - 1 ? ' ' : '-'}${e}`).join('\r\n'));
          break;
        }
        case 'MAIL': {
          if (cfg.bool('smtpd_helo_required') && !helo) { write('503 5.5.1 Error: send HELO/EHLO first'); break; }
          if (sender !== undefined) { write('503 5.5.1 Error: nested MAIL command'); break; }
          const c = arg.indexOf(':');
          if (c < 0) { write('501 5.5.4 Syntax: MAIL FROM:<address>'); break; }
          sender = address(arg.slice(c + 1));
          write('250 2.1.0 Ok');
          break;
        }
        case 'RCPT': {
          if (sender === undefined) { write('503 5.5.1 Error: need MAIL command'); break; }
          const c = arg.indexOf(':');
          if (c < 0) { write('501 5.5.4 Syntax: RCPT TO:<address>'); break; }
          if (rcptReply === undefined && !deepPassed) { deepPassed = true; await o.onDeepPass?.(); }
          const reply = soft(rcptReply ?? '450 4.3.2 Service currently unavailable');
          o.log(`NOQUEUE: reject: RCPT from ${o.clientAddrPort}: ${reply}; from=<${sender}>, to=<${address(arg.slice(c + 1))}>, proto=${proto}, helo=<${helo ?? ''}>`);
          write(reply);
          break;
        }
        case 'DATA':
          if (arg) { write('501 5.5.4 Syntax: DATA'); break; }
          if (sender === undefined) { write('503 5.5.1 Error: need RCPT command'); break; }
          write('554 5.5.1 Error: no valid recipients');
          break;
        case 'RSET': sender = undefined; write('250 2.0.0 Ok'); break;
        case 'NOOP': write('250 2.0.0 Ok'); break;
        case 'VRFY':
          if (!word) { write('501 5.5.4 Syntax: VRFY address'); break; }
          if (cfg.bool('disable_vrfy_command')) { write('502 5.5.1 VRFY command is disabled'); break; }
          write(soft(rcptReply ?? '450 4.3.2 Service currently unavailable'));
          break;
        case 'ETRN':
          if (cfg.bool('smtpd_helo_required') && !helo) { write('503 5.5.1 Error: send HELO/EHLO first'); break; }
          if (!word) { write('500 Syntax: ETRN domain'); break; }
          write('458 Unable to queue messages');
          break;
        case 'STARTTLS': write('502 5.5.1 Error: command not implemented'); break;
        case 'QUIT': write('221 2.0.0 Bye'); return;
        default: write('502 5.5.2 Error: command not recognized');
      }
    }
  } finally {
    reader.interrupt();
    o.log(`DISCONNECT ${o.clientAddrPort}`);
    if (!socket.destroyed) socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }
}

/** psc_extract_addr(): the address inside <> (or up to a space), quotes removed, source route cut. */
function address(s: string): string {
  let t = s.replace(/^ +/, '');
  const stop = t.startsWith('<') ? '>' : ' ';
  if (t.startsWith('<')) t = t.slice(1);
  let out = '';
  let quoted = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (!quoted && c === stop) break;
    if (c === '"') { quoted = !quoted; continue; }
    if (c === '\\') { i++; if (i < t.length) out += t[i]; continue; }
    out += c;
  }
  const colon = out.indexOf(':');
  return out.startsWith('@') && colon >= 0 ? out.slice(colon + 1) : out;
}
