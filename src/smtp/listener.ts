/**
 * @module smtp/listener
 * Listening sockets for the master.cf smtpd services: plain (with STARTTLS) or implicit TLS
 * (smtpd_tls_wrappermode), the per-client connection count limit
 * (smtpd_client_connection_count_limit), client name lookup, and graceful shutdown.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { ListenerSpec } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { namaddr, sessionLogger } from '../log/logger.js';
import { releaseSessionPid, takeSessionPid } from '../log/session-pid.js';
import type { QueuedMessage, Spool } from '../queue/spool.js';
import type { PasswdFile } from '../auth/passwd.js';
import { NetworkList } from '../engine/networks.js';
import { lookupClientNames, type ClientNames } from './client-name.js';
import { Session } from './session.js';
import { screenClient } from '../screen/index.js';
import { renderReply, reply } from './reply.js';
import { checkLimitsConfig, refuseAtConnect } from '../limits/index.js';

/** Open sessions per client address (anvil(8)'s connection count), shared by all listeners of a process or, with workers, kept by the primary. */
export interface ConnectionCounter {
  /** Counts a new session; resolves to the number of sessions of this address including it. */
  acquire(address: string): number | Promise<number>;
  release(address: string): void;
}

export class LocalConnectionCounter implements ConnectionCounter {
  private readonly counts = new Map<string, number>();
  acquire(address: string): number {
    const n = (this.counts.get(address) ?? 0) + 1;
    this.counts.set(address, n);
    return n;
  }
  release(address: string): void {
    const left = (this.counts.get(address) ?? 1) - 1;
    if (left <= 0) this.counts.delete(address); else this.counts.set(address, left);
  }
}

export interface ListenerDeps {
  readonly counter: ConnectionCounter;
  readonly logger: Logger;
  readonly spool: Spool;
  readonly passwd: PasswdFile;
  readonly onQueued: (msg: QueuedMessage) => void;
}

export interface TlsMaterial { readonly context: SecureContext; readonly options: { cert: Buffer; key: Buffer; minVersion: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3' } }

/** Builds the TLS context of a service, or undefined when it has no certificate. */
export function tlsContextFor(spec: ListenerSpec): TlsMaterial | undefined {
  const cfg = spec.config;
  const cert = cfg.get('smtpd_tls_cert_file');
  const level = cfg.get('smtpd_tls_security_level').toLowerCase();
  const wrapper = cfg.bool('smtpd_tls_wrappermode');
  if (!cert) {
    if (level === 'encrypt' || wrapper) throw new ConfigError(`service ${spec.service}: ${wrapper ? 'smtpd_tls_wrappermode = yes' : 'smtpd_tls_security_level = encrypt'} needs smtpd_tls_cert_file`);
    return undefined;
  }
  const keyFile = cfg.get('smtpd_tls_key_file') || cert;
  let certPem: Buffer, keyPem: Buffer;
  try { certPem = readFileSync(cert); } catch (e) { throw new ConfigError(`smtpd_tls_cert_file: cannot read ${cert}: ${(e as Error).message}`); }
  try { keyPem = readFileSync(keyFile); } catch (e) { throw new ConfigError(`smtpd_tls_key_file: cannot read ${keyFile}: ${(e as Error).message}`); }
  const protos = cfg.get('smtpd_tls_protocols');
  const minVersion = /TLSv1\.3/.test(protos) && />=\s*TLSv1\.3/.test(protos) ? 'TLSv1.3' : />=\s*TLSv1\.2|!TLSv1\.1/.test(protos) ? 'TLSv1.2' : 'TLSv1';
  try {
    const options = { cert: certPem, key: keyPem, minVersion } as const;
    return { context: createSecureContext(options), options };
  } catch (e) {
    throw new ConfigError(`TLS certificate or key unusable (${cert}, ${keyFile}): ${(e as Error).message}`);
  }
}

/** A TLS handshake must finish within smtpd_timeout (smtpd_starttls_timeout in Postfix). */
const handshakeTimeout = (spec: ListenerSpec) => spec.config.time('smtpd_timeout') * 1000;

export class SmtpListener {
  private server: Server | undefined;
  private readonly sessions = new Set<Session>();
  private readonly tls: TlsMaterial | undefined;
  private readonly exceptions: NetworkList;
  private readonly xclientHosts: NetworkList | undefined;
  private stopping = false;

  constructor(readonly spec: ListenerSpec, private readonly deps: ListenerDeps) {
    this.tls = tlsContextFor(spec);
    checkLimitsConfig(spec.config);
    this.exceptions = new NetworkList(spec.config.list('smtpd_client_event_limit_exceptions'));
    const xclient = spec.config.list('smtpd_authorized_xclient_hosts');
    this.xclientHosts = xclient.length ? new NetworkList(xclient, {
      name: 'smtpd_authorized_xclient_hosts',
      parentMatchesSubdomains: spec.config.list('parent_domain_matches_subdomains').includes('smtpd_authorized_xclient_hosts'),
    }) : undefined;
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: this.spec.host, port: this.spec.port };
  }

  async listen(): Promise<void> {
    const wrapper = this.spec.config.bool('smtpd_tls_wrappermode');
    const onConn = (s: Socket) => { void this.accept(s, wrapper); };
    this.server = wrapper
      ? createTlsServer({ ...this.tls!.options, handshakeTimeout: handshakeTimeout(this.spec) }, onConn)
      : createServer({ noDelay: true }, onConn);
    if (wrapper) this.server.on('tlsClientError', () => { /* failed handshakes are not sessions */ });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) => reject(new ConfigError(
        `service ${this.spec.service}: cannot listen on ${this.spec.host.includes(':') ? `[${this.spec.host}]` : this.spec.host}:${this.spec.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : e.message}`)));
      this.server!.listen({ host: this.spec.host, port: this.spec.port, backlog: 1024 }, () => { this.server!.off('error', reject); resolve(); });
    });
  }

  /**
   * accept - one connection. Its smtpd lines, from the first warning to the disconnect line, carry
   * a number of its own in place of the process id (log/session-pid), released when all are logged.
   */
  private async accept(socket: Socket, implicitTls: boolean): Promise<void> {
    socket.on('error', () => { /* reported by the session as a lost connection */ });
    if (this.stopping) { socket.destroy(); return; }
    const pid = takeSessionPid();
    try {
      await this.serve(socket, implicitTls, sessionLogger(this.deps.logger, pid));
    } finally {
      releaseSessionPid(pid);
    }
  }

  private async serve(socket: Socket, implicitTls: boolean, logger: Logger): Promise<void> {
    const cfg = this.spec.config;
    const address = (socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:(?=\d+\.)/, '');
    const port = socket.remotePort ?? 0;
    const limit = cfg.int('smtpd_client_connection_count_limit');
    // Counting costs an IPC round trip with workers: only when a limit is set.
    let n = 0;
    if (limit > 0) {
      n = await this.deps.counter.acquire(address);
      if (socket.destroyed) { this.deps.counter.release(address); return; }
      socket.once('close', () => this.deps.counter.release(address));
    }
    // smtpd_peer.c: forward-confirmed PTR name, with why a name is 'unknown'; warnings before "connect from".
    const names: ClientNames = cfg.bool('smtpd_peername_lookup') ? await lookupClientNames(address, cfg)
      : { name: 'unknown', reverseName: 'unknown', nameStatus: 'permanent', reverseNameStatus: 'permanent', warnings: [] };
    for (const w of names.warnings) logger.line('smtpd', `warning: ${w}`, cfg.get('syslog_name'));
    const name = names.name;
    // smtpd.c: XCLIENT-authorised hosts (proxies) are not subject to the client event limits either.
    if (limit > 0 && n > limit && !this.exceptions.matches(address) && !this.xclientHosts?.matches(address, name)) {
      // anvil(8) concurrency limit: Postfix's wording and log line.
      const host = cfg.get('myhostname');
      logger.line('smtpd', `warning: Connection concurrency limit exceeded: ${n} from ${namaddr(name, address)} for service ${this.spec.service}`, cfg.get('syslog_name'));
      socket.end(renderReply(reply(421, '7.0', `${host} Error: too many connections from ${address}`)));
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    // Bans and the connection rate (limits/, bans/): refused with 421 before any greeting.
    if (await refuseAtConnect(socket, { address, name }, { config: cfg, logger, processLogger: this.deps.logger, service: this.spec.service, xclientHosts: this.xclientHosts })) return;
    // postscreen(8)'s connect-time tests, before the greeting (screen/): a blocked client may never reach a session.
    if (await screenClient(socket, { address, port, name }, { config: cfg, logger: this.deps.logger })) return;
    const session = new Session(socket, { address, port, name, reverseName: names.reverseName, nameStatus: names.nameStatus, reverseNameStatus: names.reverseNameStatus }, {
      config: cfg, service: this.spec.service, logger, spool: this.deps.spool,
      passwd: this.deps.passwd, tlsContext: this.tls?.context, implicitTls: implicitTls && (socket as TLSSocket).encrypted === true,
      onQueued: this.deps.onQueued, xclientHosts: this.xclientHosts,
    });
    this.sessions.add(session);
    try { await session.run(); } finally { this.sessions.delete(session); }
  }

  /** Closes the listening socket only; sessions go on (SIGHUP reload). */
  async stopAccepting(): Promise<void> {
    await new Promise<void>((resolve) => { if (!this.server?.listening) return resolve(); this.server.close(); this.server.once('close', () => resolve()); setImmediate(resolve); });
  }

  get sessionCount(): number { return this.sessions.size; }

  /** Stops accepting; asks idle sessions to end; after `deadlineMs` closes the rest with 421. */
  async close(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
    for (const s of this.sessions) s.requestShutdown();
    const end = Date.now() + deadlineMs;
    while (this.sessions.size && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sessions) s.forceClose();
    const end2 = Date.now() + 2000;
    while (this.sessions.size && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
  }
}
