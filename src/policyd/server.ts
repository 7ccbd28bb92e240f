/**
 * @module policyd/server
 * `mxguard policy`: a Postfix policy delegation server (check_policy_service) that answers
 * with mxguard's engine. Each request is evaluated as the list $mxguard_policy_restrictions
 * (in the place of smtpd_recipient_restrictions, so reply texts name the recipient) and the
 * Decision is sent back as one access(5) action (policyd/protocol decisionAction()).
 *
 * Protocol: SMTPD_POLICY_README; connections stay open for any number of requests, answered in
 * order. Failure behaviour: malformed input, a request over $mxguard_policy_request_limit, an
 * unknown `request=` type, or no complete request within $mxguard_policy_read_timeout closes
 * the connection (Postfix logs it and retries; its client gets 451 4.3.5). An engine error
 * answers `action=451 4.3.5 Server configuration error` rather than closing.
 * Limits: at most $mxguard_policy_connection_limit connections; more are closed at once.
 * Log: `mxguard/policy[PID]:` lines; greylisting's are postgrey's (`action=greylist, …`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { evaluateList } from '../engine/evaluate.js';
import type { Logger } from '../log/logger.js';
import { decisionAction, PolicyProtocolError, requestContext, RequestReader, type PolicyRequest } from './protocol.js';

export interface PolicyServer {
  readonly server: Server;
  /** Where it listens: `host:port` or the socket path. */
  readonly address: string;
  /** SIGHUP: later requests use this configuration (the listen address stays). */
  reconfigure(cfg: Config): void;
  close(): Promise<void>;
}

/** parseListen - $mxguard_policy_listen as a TCP address or a UNIX-domain socket path. */
export function parseListen(spec: string): { path: string } | { host: string; port: number } {
  const s = spec.trim();
  if (s.startsWith('unix:')) return { path: s.slice(5) };
  if (s.startsWith('/')) return { path: s };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s) ?? /^()()(\d+)$/.exec(s);
  if (!m) throw new Error(`mxguard_policy_listen: expected host:port or unix:/path, got "${spec}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port: Number(m[3]) };
}

/** policyConfig - the configuration a request is evaluated with: the policy list in the recipient list's place. */
export function policyConfig(cfg: Config): Config {
  return cfg.withOverrides(new Map([
    ['smtpd_recipient_restrictions', cfg.get('mxguard_policy_restrictions')],
    ['smtpd_relay_restrictions', ''],
  ]), '(mxguard_policy_restrictions)', 0);
}

/** answer - the action for one request. */
export async function answerRequest(req: PolicyRequest, cfg: Config, log: (text: string) => void): Promise<string> {
  const ctx = requestContext(req, cfg);
  let action: string;
  try {
    const d = await evaluateList(ctx.stage, 'smtpd_recipient_restrictions', ctx);
    for (const e of d.events) log(e.action === 'info' ? e.text : `${e.action}: ${e.text}`);
    action = decisionAction(d);
  } catch (e) {
    log(`warning: evaluating a request from ${ctx.client.name}[${ctx.client.address}]: ${(e as Error).message}`);
    action = '451 4.3.5 Server configuration error';
  }
  return action.replace(/[\r\n]/g, ' ');
}

export function startPolicyServer(cfg: Config, logger: Logger): Promise<PolicyServer> {
  // Replaced by reconfigure() (SIGHUP): requests evaluated afterwards use the new lists and tables.
  let pcfg = policyConfig(cfg);
  const timeoutMs = cfg.time('mxguard_policy_read_timeout') * 1000;
  const limit = cfg.int('mxguard_policy_request_limit');
  const maxConns = cfg.int('mxguard_policy_connection_limit');
  const log = (text: string) => logger.line('policy', text);
  const sockets = new Set<Socket>();

  const server = createServer((sock) => {
    if (sockets.size >= maxConns) {
      log(`warning: connection limit ${maxConns} reached; closing a new connection`);
      sock.destroy();
      return;
    }
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    sock.setTimeout(timeoutMs);
    const reader = new RequestReader(limit);
    const peer = sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : 'local';
    // Requests of one connection are answered in order: each waits for the one before.
    let chain: Promise<void> = Promise.resolve();
    let pending = 0;
    let closed = false;
    const fail = (why: string) => {
      if (closed) return;
      closed = true;
      log(`warning: ${peer}: ${why}; closing the connection`);
      sock.destroy();
    };
    sock.on('timeout', () => fail('read timeout'));
    sock.on('error', () => { closed = true; sock.destroy(); });
    sock.on('close', () => { closed = true; sockets.delete(sock); });
    sock.on('data', (chunk: string) => {
      let reqs: PolicyRequest[];
      try { reqs = reader.push(chunk); } catch (e) {
        if (e instanceof PolicyProtocolError) return fail(e.message);
        throw e;
      }
      for (const req of reqs) {
        const type = req.get('request');
        if (type !== 'smtpd_access_policy') return fail(type === undefined ? 'request without "request" attribute' : `unknown request type "${type}"`);
        const answer = async () => {
          const action = await answerRequest(req, pcfg, log);
          if (!closed) sock.write(`action=${action}\n\n`);
        };
        // Postfix sends one request at a time: the chain is only waited on when a client pipelines.
        chain = pending++ === 0 ? answer().finally(() => { pending--; }) : chain.then(answer).finally(() => { pending--; });
      }
    });
  });
  server.maxConnections = maxConns + 1;

  const where = parseListen(cfg.get('mxguard_policy_listen'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      const a = server.address();
      const address = typeof a === 'string' ? a : a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '';
      log(`listening on ${address}`);
      resolve({
        server, address,
        reconfigure: (next: Config) => { pcfg = policyConfig(next); },
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      });
    };
    if ('path' in where) {
      if (existsSync(where.path)) { try { unlinkSync(where.path); } catch { /* listen reports it */ } }
      server.listen(where.path, done);
    } else server.listen(where.port, where.host, done);
  });
}
