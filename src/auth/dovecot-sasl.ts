/**
 * @module auth/dovecot-sasl
 * SMTP AUTH through Dovecot's authentication server (`smtpd_sasl_type = dovecot`), the way
 * Postfix's xsasl_dovecot client does it: mxguard relays the SASL exchange and Dovecot decides.
 *
 * Protocol (Dovecot auth protocol 1.x, "client" side, one line per command, fields split by TAB):
 *
 *     C: VERSION 1 2            C: CPID <our pid>
 *     S: VERSION 1 <minor>      S: MECH <name> [flags…]   (one per mechanism)
 *     S: SPID … / CUID … / COOKIE …                        S: DONE
 *     C: AUTH <id> <mech> service=smtp [secured] nologin [lip=…] [rip=…] [resp=<base64>]
 *     S: CONT <id> <base64>  → C: CONT <id> <base64>      (as often as the mechanism needs)
 *     S: OK <id> user=<name> …   or   S: FAIL <id> [reason=…] [temp] …
 *
 * Values may carry Dovecot's tab escapes (\x01 then 0, 1, t, r, n or l); they are decoded. The
 * major version must be 1; other handshake lines are ignored.
 *
 * Where: `smtpd_sasl_path` is a unix socket path, or `inet:host:port` (`inet:[::1]:port`). As in
 * Postfix, a relative path is relative to `$queue_directory` (`private/auth` →
 * `$queue_directory/private/auth`); mxguard has no chroot, so an absolute path such as
 * `/var/spool/postfix/private/auth` is the plain way to share Dovecot's socket with Postfix.
 *
 * Mechanisms: those Dovecot announces in MECH lines, minus those the security options forbid
 * (`smtpd_sasl_security_options`, or `smtpd_sasl_tls_security_options` under TLS):
 * noanonymous drops MECH flag `anonymous`, noplaintext `plaintext`, nodictionary `dictionary`,
 * noactive `active`; mutual_auth and forward_secrecy keep only mechanisms with that flag. Dovecot's
 * `private` mechanisms and EXTERNAL (which needs the client certificate, not relayed) are never
 * offered. Before the first handshake, or while Dovecot is away, the last announced list is used
 * (PLAIN and LOGIN when there never was one), so clients see a temporary failure, not a missing
 * AUTH capability.
 *
 * Failure behaviour: one connection per (process, target) is shared by all sessions, with
 * requests told apart by id. Connecting and the handshake must finish within CONNECT_TIMEOUT_MS,
 * and each Dovecot answer within ANSWER_TIMEOUT_MS (above Dovecot's own failure delay and penalty
 * of at most 15 s); on a timeout, a malformed line, EOF or a socket error the connection is
 * dropped, every pending request ends with a temporary failure (SMTP 454 4.7.0), and the next
 * request connects again. `FAIL … temp` is also a temporary failure; other FAILs are wrong
 * credentials (535). Nothing here throws into the session.
 *
 * XXX: an exchange the SMTP client aborts ("*") is only forgotten here; Dovecot drops the
 * request on its own timeout.
 */
import { connect, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { reply } from '../smtp/reply.js';
import type { Ask, SaslContext, SaslResult, SaslServer } from '../smtp/sasl.js';

/** Connecting plus the VERSION … DONE handshake. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Each OK/FAIL/CONT answer. Dovecot delays failures (auth_failure_delay, penalty up to 15 s). */
export const ANSWER_TIMEOUT_MS = 30_000;
/** A line longer than this is a protocol error (Dovecot expects 16384; GSSAPI blobs are large). */
const MAX_LINE = 65_536;

export type DovecotTarget =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'inet'; readonly host: string; readonly port: number };

/** parseSaslPath - the socket `smtpd_sasl_path` names; relative paths are under $queue_directory. */
export function parseSaslPath(value: string, queueDirectory: string): DovecotTarget | string {
  const v = value.trim();
  if (!v) return 'smtpd_sasl_path is empty';
  if (v.startsWith('inet:')) {
    const m = /^inet:(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) return `bad smtpd_sasl_path "${v}": expected inet:host:port`;
    return { kind: 'inet', host: (m[1] ?? m[2])!, port };
  }
  const path = v.startsWith('unix:') ? v.slice(5) : v;
  return { kind: 'unix', path: isAbsolute(path) ? path : join(queueDirectory, path) };
}

export function targetName(t: DovecotTarget): string {
  return t.kind === 'unix' ? t.path : `inet:${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

export interface DovecotMechanism { readonly name: string; readonly flags: ReadonlySet<string> }

/** Why the auth server could not answer; always a temporary failure for the SMTP client. */
export class DovecotAuthError extends Error {
  override readonly name = 'DovecotAuthError';
  constructor(readonly target: string, readonly failure: 'timeout' | 'refused' | 'unreachable' | 'protocol' | 'closed', detail: string, options?: ErrorOptions) {
    super(`dovecot auth ${target}: ${failure}${detail ? ` (${detail})` : ''}`, options);
  }
}

export type DovecotAnswer =
  | { readonly kind: 'cont'; readonly challenge: string }
  | { readonly kind: 'ok'; readonly user: string | undefined }
  | { readonly kind: 'fail'; readonly temp: boolean; readonly reason: string | undefined };

export interface DovecotAuthRequest {
  readonly mech: string;
  /** Base64 initial response ('' for an empty one), or undefined when the client sent none. */
  readonly initial: string | undefined;
  readonly service: string;
  readonly secured: boolean;
  readonly clientAddress?: string;
  readonly localAddress?: string;
}

/** unescape - Dovecot's tab escaping: \x01 followed by 0, 1, t, r, n/l, or the character itself. */
function unescape(s: string): string {
  if (!s.includes('\x01')) return s;
  const map: Record<string, string> = { '0': '\0', '1': '\x01', t: '\t', r: '\r', n: '\n', l: '\n' };
  return s.replace(/\x01(.?)/gs, (_, c: string) => map[c] ?? c);
}

/** Values we send must not break the line framing. */
const safeField = (s: string) => !/[\t\r\n\0\x01]/.test(s);

function optionsOf(fields: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 0) m.set(f, ''); else m.set(f.slice(0, eq), unescape(f.slice(eq + 1)));
  }
  return m;
}

interface Pending {
  resolve(a: DovecotAnswer): void;
  reject(e: DovecotAuthError): void;
  timer: NodeJS.Timeout;
}

/** One live connection after a successful handshake. */
interface Link { readonly socket: Socket; readonly mechanisms: readonly DovecotMechanism[] }

/**
 * DovecotAuthClient - a multiplexed client connection to one Dovecot auth socket, opened on
 * first use and again after any failure.
 */
export class DovecotAuthClient {
  private link: Link | undefined;
  private connecting: Promise<Link> | undefined;
  private lastMechanisms: readonly DovecotMechanism[] | undefined;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  readonly name: string;

  constructor(readonly target: DovecotTarget, private readonly timeouts = { connectMs: CONNECT_TIMEOUT_MS, answerMs: ANSWER_TIMEOUT_MS }) {
    this.name = targetName(target);
  }

  /** The mechanisms of the last handshake, without any I/O; undefined before the first one. */
  cachedMechanisms(): readonly DovecotMechanism[] | undefined { return this.lastMechanisms; }

  /** mechanisms - Dovecot's current list, connecting first if needed (throws DovecotAuthError). */
  async mechanisms(): Promise<readonly DovecotMechanism[]> { return (await this.connection()).mechanisms; }

  /** begin - sends AUTH; the id is for cont() and forget(). */
  async begin(req: DovecotAuthRequest): Promise<{ id: string; answer: DovecotAnswer }> {
    const link = await this.connection();
    const id = String(this.nextId++);
    const f = ['AUTH', id, req.mech, `service=${req.service}`];
    if (req.localAddress && safeField(req.localAddress)) f.push(`lip=${req.localAddress}`);
    if (req.clientAddress && safeField(req.clientAddress)) f.push(`rip=${req.clientAddress}`);
    if (req.secured) f.push('secured');
    f.push('nologin');  // only a password check: no login process will take over the user
    if (req.initial !== undefined) f.push(`resp=${req.initial}`);
    if (!f.every(safeField)) throw new DovecotAuthError(this.name, 'protocol', 'request field with a control character');
    return { id, answer: await this.send(link, id, f.join('\t')) };
  }

  /** cont - sends the client's next response (base64) for request `id`. */
  async cont(id: string, response: string): Promise<DovecotAnswer> {
    const link = this.link;
    if (!link) throw new DovecotAuthError(this.name, 'closed', 'connection lost during the exchange');
    if (!safeField(response)) throw new DovecotAuthError(this.name, 'protocol', 'response with a control character');
    return this.send(link, id, `CONT\t${id}\t${response}`);
  }

  /** close - drops the connection (pending requests fail); a later request connects again. */
  close(): void { if (this.link) this.drop(this.link.socket, new DovecotAuthError(this.name, 'closed', 'client closed')); }

  private send(link: Link, id: string, line: string): Promise<DovecotAnswer> {
    return new Promise<DovecotAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A server that does not answer in time is treated as broken: reconnect next time.
        this.drop(link.socket, new DovecotAuthError(this.name, 'timeout', `no answer within ${this.timeouts.answerMs / 1000}s`));
      }, this.timeouts.answerMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      link.socket.write(`${line}\n`);
    });
  }

  private settle(id: string, answer: DovecotAnswer): void {
    const p = this.pending.get(id);
    if (!p) return;  // forgotten (client aborted) or unknown: ignored
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(answer);
  }

  /** forget - stops waiting for request `id` (the SMTP client aborted). */
  forget(id: string): void {
    const p = this.pending.get(id);
    if (p) { clearTimeout(p.timer); this.pending.delete(id); }
  }

  /** drop - closes `socket` and fails everything waiting on it; only the current link is forgotten. */
  private drop(socket: Socket, err: DovecotAuthError): void {
    socket.destroy();
    if (this.link?.socket !== socket) return;
    this.link = undefined;
    for (const [id, p] of this.pending) { clearTimeout(p.timer); p.reject(err); this.pending.delete(id); }
  }

  private connection(): Promise<Link> {
    if (this.link && !this.link.socket.destroyed) return Promise.resolve(this.link);
    this.connecting ??= this.open().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  /** open - connects and runs the handshake; the socket never keeps the process alive. */
  private open(): Promise<Link> {
    const t = this.target;
    return new Promise<Link>((resolve, reject) => {
      const socket = t.kind === 'unix' ? connect({ path: t.path }) : connect({ host: t.host, port: t.port });
      socket.unref();
      socket.setEncoding('utf8');
      const mechs: DovecotMechanism[] = [];
      let handshake = true;
      let versionSeen = false;
      let buf = '';
      const fail = (e: DovecotAuthError) => {
        if (handshake) { handshake = false; clearTimeout(timer); socket.destroy(); reject(e); } else this.drop(socket, e);
      };
      const timer = setTimeout(() => fail(new DovecotAuthError(this.name, 'timeout', `no handshake within ${this.timeouts.connectMs / 1000}s`)), this.timeouts.connectMs);
      socket.once('connect', () => socket.write(`VERSION\t1\t2\nCPID\t${process.pid}\n`));
      socket.on('error', (e: NodeJS.ErrnoException) => {
        const failure = e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ENOENT' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? 'unreachable' : 'closed';
        fail(new DovecotAuthError(this.name, failure, e.code ?? e.message, { cause: e }));
      });
      socket.on('close', () => fail(new DovecotAuthError(this.name, 'closed', 'connection closed by the server')));
      const line = (l: string) => {
        const f = l.split('\t');
        if (handshake) {
          switch (f[0]) {
            case 'VERSION':
              if (f[1] !== '1') return fail(new DovecotAuthError(this.name, 'protocol', `unsupported protocol version ${f[1] ?? ''}`));
              versionSeen = true; return;
            case 'MECH':
              if (f[1]) mechs.push({ name: f[1].toUpperCase(), flags: new Set(f.slice(2).map((x) => x.toLowerCase())) });
              return;
            case 'DONE': {
              if (!versionSeen) return fail(new DovecotAuthError(this.name, 'protocol', 'DONE before VERSION'));
              handshake = false;
              clearTimeout(timer);
              const link = { socket, mechanisms: mechs };
              this.link = link;
              this.lastMechanisms = mechs;
              return resolve(link);
            }
            default: return;  // SPID, CUID, COOKIE, and whatever later versions add
          }
        }
        const id = f[1];
        if ((f[0] !== 'OK' && f[0] !== 'FAIL' && f[0] !== 'CONT') || !id) {
          return fail(new DovecotAuthError(this.name, 'protocol', `unexpected line "${l.slice(0, 60)}"`));
        }
        if (f[0] === 'CONT') return this.settle(id, { kind: 'cont', challenge: f[2] ?? '' });
        const o = optionsOf(f.slice(2));
        if (f[0] === 'OK') return this.settle(id, { kind: 'ok', user: o.get('user') || undefined });
        this.settle(id, { kind: 'fail', temp: o.has('temp') || o.get('code') === 'temp_fail', reason: o.get('reason') });
      };
      socket.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0 && !socket.destroyed) {
          const l = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          line(l.endsWith('\r') ? l.slice(0, -1) : l);
        }
        if (buf.length > MAX_LINE) fail(new DovecotAuthError(this.name, 'protocol', 'line too long'));
      });
    });
  }
}

/** Options of smtpd_sasl_security_options that mxguard knows (postconf(5)). */
export const SECURITY_OPTIONS = ['noanonymous', 'noplaintext', 'nodictionary', 'noactive', 'mutual_auth', 'forward_secrecy'] as const;

/** offerable - the mechanisms the security options allow, in Dovecot's order. */
export function offerable(mechs: readonly DovecotMechanism[], options: readonly string[]): string[] {
  const opt = new Set(options.map((o) => o.toLowerCase()));
  return mechs.filter((m) => {
    const f = m.flags;
    if (f.has('private') || m.name === 'EXTERNAL') return false;
    if (opt.has('noanonymous') && f.has('anonymous')) return false;
    if (opt.has('noplaintext') && f.has('plaintext')) return false;
    if (opt.has('nodictionary') && f.has('dictionary')) return false;
    if (opt.has('noactive') && f.has('active')) return false;
    if (opt.has('mutual_auth') && !f.has('mutual-auth')) return false;
    if (opt.has('forward_secrecy') && !f.has('forward-secrecy')) return false;
    return true;
  }).map((m) => m.name);
}

/** Used before any handshake succeeded: what Dovecot offers with `auth_mechanisms = plain login`. */
const FALLBACK: readonly DovecotMechanism[] = [
  { name: 'PLAIN', flags: new Set(['plaintext']) },
  { name: 'LOGIN', flags: new Set(['plaintext']) },
];

const tempFailure = () => reply(454, '7.0', 'Temporary authentication failure');
const isBase64 = (s: string) => s === '' || (/^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0);

/** DovecotSasl - SMTP AUTH relayed to a Dovecot auth server. */
export class DovecotSasl implements SaslServer {
  constructor(readonly client: DovecotAuthClient) {}

  async mechanisms(ctx: SaslContext): Promise<readonly string[]> {
    let mechs = this.client.cachedMechanisms();
    if (!mechs) {
      try { mechs = await this.client.mechanisms(); } catch { mechs = FALLBACK; }
    }
    return offerable(mechs, ctx.securityOptions);
  }

  async authenticate(mech: string, initial: string | undefined, ask: Ask, ctx: SaslContext): Promise<SaslResult> {
    const cannotDecode = () => reply(501, '5.2', 'Cannot decode response');
    // RFC 4954 §4: "=" is an empty initial response.
    const first = initial === '=' ? '' : initial;
    if (first !== undefined && !isBase64(first)) return { kind: 'error', reply: cannotDecode() };
    let id: string | undefined;
    try {
      const started = await this.client.begin({
        mech, initial: first, service: ctx.service, secured: ctx.secured,
        clientAddress: ctx.clientAddress, localAddress: ctx.localAddress,
      });
      id = started.id;
      let answer = started.answer;
      for (;;) {
        switch (answer.kind) {
          case 'ok':
            if (!answer.user) return { kind: 'error', reply: tempFailure(), temporary: `${this.client.name}: OK without user name` };
            return { kind: 'ok', username: answer.user };
          case 'fail':
            if (answer.temp) return { kind: 'error', reply: tempFailure(), temporary: `${this.client.name}: ${answer.reason ?? 'temporary failure'}` };
            return { kind: 'failed' };
          case 'cont': {
            const r = await ask(answer.challenge);
            if (typeof r !== 'string') { this.client.forget(id); return { kind: 'error', reply: r }; }
            if (!isBase64(r)) { this.client.forget(id); return { kind: 'error', reply: cannotDecode() }; }
            answer = await this.client.cont(id, r);
            break;
          }
        }
      }
    } catch (e) {
      if (id !== undefined) this.client.forget(id);
      if (e instanceof DovecotAuthError) return { kind: 'error', reply: tempFailure(), temporary: e.message };
      throw e;
    }
  }
}

/** One client per target and process, shared by every session (and every service using it). */
const clients = new Map<string, DovecotAuthClient>();

/** dovecotSasl - the shared Dovecot SASL server for `smtpd_sasl_path`, or the reason it is unusable. */
export function dovecotSasl(saslPath: string, queueDirectory: string): DovecotSasl | string {
  const target = parseSaslPath(saslPath, queueDirectory);
  if (typeof target === 'string') return target;
  const key = targetName(target);
  let c = clients.get(key);
  if (!c) { c = new DovecotAuthClient(target); clients.set(key, c); }
  return new DovecotSasl(c);
}
