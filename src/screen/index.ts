/**
 * @module screen
 * Connect-time screening in postscreen(8)'s form, without a separate process: the SMTP listener
 * calls screenClient() once per connection, before the greeting. Today it runs the DNS list
 * score (postscreen_dnsbl_sites and friends; screen/score); clients matching $mynetworks are not
 * screened (postscreen_access_list = permit_mynetworks, Postfix's default).
 *
 * Outcome (postscreen_early.c): a score at or above $postscreen_dnsbl_threshold logs
 * `DNSBL rank N for [ADDR]:PORT`, then by $postscreen_dnsbl_action:
 * - ignore: the session goes on normally;
 * - enforce: the stand-in engine (screen/dummy) answers each RCPT TO with
 *   `550 5.7.1 Service unavailable; client [ADDR] blocked using LIST`;
 * - drop: `521 5.7.1 Service unavailable; client [ADDR] blocked using LIST` and disconnect.
 * A bad $postscreen_dnsbl_sites is logged once per configuration and screens nobody (fail open).
 *
 * On a service that opts in (master.cf `-o mxguard_pregreet_screen=yes`, the MX port only) the
 * whole of postscreen runs (prescreen(), docs/screen.md), logging `CONNECT from [A]:P to [B]:Q`:
 * 1. $postscreen_access_list: permit → `ALLOWLISTED`, straight to the session; reject →
 *    `DENYLISTED` and $postscreen_denylist_action (5.3.2 replies).
 * 2. The cache of passed clients (screen/cache): when no test is due, `PASS OLD` and no pause.
 * 3. The pregreet test: `220-$postscreen_greet_banner`, then a pause of $postscreen_greet_wait
 *    while the DNS list score runs; a client that talks meanwhile is logged `PREGREET n after t
 *    from [A]:P: text` and handled by $postscreen_greet_action (drop: 521 5.5.1 Protocol error;
 *    enforce: 550 5.5.1 Protocol error at RCPT TO through the stand-in engine).
 * 4. The deep tests (pipelining, non-SMTP command), when enabled and due, in the stand-in engine:
 *    a new client that passes is told 450 4.3.2 at RCPT TO and must reconnect.
 * A client that passed every due test is logged `PASS NEW` and remembered with the postscreen_*_ttl
 * times; when no deep test is due the connection goes on to the real session, whose `220` ends
 * the multi-line greeting.
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { engineFacts } from '../engine/facts.js';
import { healthFor } from '../dnsbl/health.js';
import type { Logger } from '../log/logger.js';
import { openTable } from '../tables/index.js';
import { recordOffence } from '../bans/index.js';
import { accessVerdict } from './access.js';
import { readPass, writePass, type PassRecord } from './cache.js';
import { runDummyEngine, type DeepTests, type ScreenAction } from './dummy.js';
import { greetWait, printable, seconds } from './pregreet.js';
import { dnsblScore, type ScoreResult } from './score.js';
import { parseSites, type Site } from './sites.js';

export { parseSite, parseSites, type Site } from './sites.js';
export { dnsblScore, type ScoreResult } from './score.js';

export interface ScreenDeps {
  readonly config: Config;
  readonly logger: Logger;
}

export interface ScreenClient {
  readonly address: string;
  readonly port: number;
  readonly name: string;
}

const parsed = new WeakMap<Config, Site[] | Error>();

function sitesOf(cfg: Config): Site[] | Error {
  let s = parsed.get(cfg);
  if (!s) {
    try { s = parseSites(cfg.list('postscreen_dnsbl_sites')); } catch (e) { s = e as Error; }
    parsed.set(cfg, s);
  }
  return s;
}

/** The name shown for a list (postscreen_dnsbl_reply_map), or the domain itself. */
function shownName(cfg: Config, domain: string): string {
  for (const spec of cfg.list('postscreen_dnsbl_reply_map')) {
    const v = openTable(spec).lookup(domain);
    if (v !== undefined) return v;
  }
  return domain;
}

/**
 * screenClient - screens one new connection. Resolves to true when the screen took the
 * connection over (dropped, or handed to the stand-in engine until it ended): the caller then
 * must not start a session.
 */
export async function screenClient(socket: Socket, client: ScreenClient, deps: ScreenDeps): Promise<boolean> {
  try {
    return await screen(socket, client, deps);
  } catch (e) {
    // A bad table or an internal error must not take the listener down: the client is not screened.
    deps.logger.line('postscreen', `warning: [${client.address}]:${client.port}: connect-time screening failed: ${(e as Error).message}`, deps.config.get('syslog_name'));
    return socket.destroyed;
  }
}

async function screen(socket: Socket, client: ScreenClient, deps: ScreenDeps): Promise<boolean> {
  const cfg = deps.config;
  const sites = sitesOf(cfg);
  const log = (text: string) => deps.logger.line('postscreen', text, cfg.get('syslog_name'));
  if (sites instanceof Error && !warned.has(cfg)) {
    warned.add(cfg); log(`warning: postscreen_dnsbl_sites: ${sites.message}; connect-time DNS list score disabled`);
  }
  const usable = sites instanceof Error ? [] : sites;
  if (pregreetEnabled(cfg)) return prescreen(socket, client, deps, usable, log);
  if (!usable.length) return false;
  const facts = engineFacts(cfg);
  const m = facts.mynetworks().match(client.address, client.name);
  if (m && !m.negated) return false;
  const where = `[${client.address}]:${client.port}`;
  const r = await score(client, usable, deps, log);
  if (socket.destroyed) return true;
  if (r.score < cfg.int('postscreen_dnsbl_threshold')) return false;
  log(`DNSBL rank ${r.score} for ${where}`);
  const action = cfg.get('postscreen_dnsbl_action').toLowerCase();
  const text = dnsblText(cfg, client, r);
  if (action === 'drop') { drop(socket, `521 ${text}`, where, log); return true; }
  if (action === 'enforce') {
    await runDummyEngine(socket, { config: cfg, rcptReply: `550 ${text}`, clientAddrPort: where, log });
    return true;
  }
  return false;
}

/** pregreetEnabled - the service opted in (master.cf -o mxguard_pregreet_screen=yes) and the wait is not zero. */
export function pregreetEnabled(cfg: Config): boolean {
  return cfg.bool('mxguard_pregreet_screen') && cfg.time('postscreen_greet_wait') > 0;
}

/** score - the DNS list score, waiting at most $postscreen_greet_wait for slow lists. */
function score(client: ScreenClient, sites: Site[], deps: ScreenDeps, log: (text: string) => void): Promise<ScoreResult> {
  const cfg = deps.config;
  const resolver = engineFacts(cfg).dns();
  return dnsblScore(client.address, sites, {
    resolver, health: healthFor(cfg, resolver), session: {},
    timeoutMs: cfg.time('postscreen_dnsbl_timeout') * 1000,
    waitMs: cfg.time('postscreen_greet_wait') * 1000,
    allowlistThreshold: cfg.int('postscreen_dnsbl_allowlist_threshold'),
    warn: (text) => log(`warning: ${text}`),
  });
}

function dnsblText(cfg: Config, client: ScreenClient, r: ScoreResult): string {
  return `5.7.1 Service unavailable; client [${client.address}] blocked using ${shownName(cfg, r.top ?? '')}`;
}

/** drop - postscreen's "drop" action: the reply, DISCONNECT, and the connection closed. */
function drop(socket: Socket, replyLine: string, where: string, log: (text: string) => void): void {
  if (!socket.destroyed) socket.end(`${replyLine}\r\n`);
  log(`DISCONNECT ${where}`);
  setTimeout(() => socket.destroy(), 2000).unref();
}

/**
 * XXX: how long a DNS list pass counts in the cache. Postfix uses the answers' TTL clamped to
 * [$postscreen_dnsbl_min_ttl, $postscreen_dnsbl_max_ttl]; the score does not report TTLs yet, so
 * this is Postfix's default maximum.
 */
const DNSBL_PASS_MS = 3600_000;

const action = (cfg: Config, name: string): ScreenAction => cfg.get(name).toLowerCase() as ScreenAction;

/**
 * prescreen - postscreen(8) on a service that opted in (see the module comment): access list,
 * cache, pause with the pregreet test (and the DNS list score meanwhile), deep tests.
 */
async function prescreen(socket: Socket, client: ScreenClient, deps: ScreenDeps, sites: Site[], log: (text: string) => void): Promise<boolean> {
  const cfg = deps.config;
  const where = `[${client.address}]:${client.port}`;
  const local = (socket.localAddress ?? '0.0.0.0').replace(/^::ffff:(?=\d+\.)/, '');
  log(`CONNECT from ${where} to [${local}]:${socket.localPort ?? 0}`);

  const verdict = accessVerdict(cfg, client.address, client.name, (text) => log(`warning: ${text}`));
  if (verdict === 'permit') { log(`ALLOWLISTED ${where}`); return false; }
  /** The RCPT reply of the first failed test whose action is enforce. */
  let enforced: string | undefined;
  if (verdict === 'reject') {
    log(`DENYLISTED ${where}`);
    const a = action(cfg, 'postscreen_denylist_action');
    if (a === 'drop') { drop(socket, '521 5.3.2 Service currently unavailable', where, log); return true; }
    if (a === 'enforce') enforced = '550 5.3.2 Service currently unavailable';
  }

  // The temporary allowlist is not used for clients on the permanent access list.
  const now = Date.now();
  const cached: PassRecord = verdict === 'reject' ? {} : await readPass(cfg, deps.logger, client.address);
  if (socket.destroyed) return true;
  const due = (t: number | undefined) => !(t !== undefined && t > now);
  const pipeOn = cfg.bool('postscreen_pipelining_enable');
  const nsmtpOn = cfg.bool('postscreen_non_smtp_command_enable');
  const todo = {
    pregr: due(cached.pregr),
    dnsbl: sites.length > 0 && due(cached.dnsbl),
    pipel: pipeOn && due(cached.pipel),
    nsmtp: nsmtpOn && due(cached.nsmtp),
  };
  if (verdict !== 'reject' && !todo.pregr && !todo.dnsbl && !todo.pipel && !todo.nsmtp) {
    log(`PASS OLD ${where}`);
    return false;
  }

  const passed: PassRecord = { ...cached };
  const dnsbl = todo.dnsbl ? score(client, sites, deps, log) : undefined;
  let pregrOk = true;
  if (todo.pregr) {
    // The multi-line greeting trick: the first line now, the last one when the pause is over.
    const banner = cfg.get('postscreen_greet_banner');
    if (banner) socket.write(`220-${banner}\r\n`);
    const greetAction = action(cfg, 'postscreen_greet_action');
    const w = await greetWait(socket, cfg.time('postscreen_greet_wait') * 1000, (data, afterMs) => {
      log(`PREGREET ${data.length} after ${seconds(afterMs)} from ${where}: ${printable(data)}`);
      reportOffence(client.address, deps);
      return greetAction === 'drop';
    });
    if (w.kind === 'hangup') {
      log(`HANGUP after ${seconds(w.afterMs)} from ${where} in tests before SMTP handshake`);
      log(`DISCONNECT ${where}`);
      socket.destroy();
      return true;
    }
    if (w.early) {
      pregrOk = false;
      if (greetAction === 'drop') { drop(socket, '521 5.5.1 Protocol error', where, log); return true; }
      if (greetAction === 'enforce') enforced ??= '550 5.5.1 Protocol error';
    } else {
      passed.pregr = Date.now() + cfg.time('postscreen_greet_ttl') * 1000;
    }
  }
  let dnsblOk = true;
  if (dnsbl) {
    const r = await dnsbl;
    if (socket.destroyed) return true;
    if (r.score >= cfg.int('postscreen_dnsbl_threshold')) {
      dnsblOk = false;
      log(`DNSBL rank ${r.score} for ${where}`);
      const a = action(cfg, 'postscreen_dnsbl_action');
      const text = dnsblText(cfg, client, r);
      if (a === 'drop') { drop(socket, `521 ${text}`, where, log); return true; }
      if (a === 'enforce') enforced ??= `550 ${text}`;
    } else {
      passed.dnsbl = Date.now() + DNSBL_PASS_MS;
    }
  }
  if (socket.destroyed) return true;
  const earlyOk = pregrOk && dnsblOk && verdict !== 'reject';
  if (verdict !== 'reject' && (passed.pregr !== cached.pregr || passed.dnsbl !== cached.dnsbl)) {
    await writePass(cfg, deps.logger, client.address, passed);
  }

  if (enforced === undefined && !todo.pipel && !todo.nsmtp) {
    // No deep tests due: the live connection goes to the real session, which sends the final 220.
    if (earlyOk) log(`PASS NEW ${where}`);
    return false;
  }
  // The stand-in engine: for an enforced failure, or for the deep tests (a new client is then told
  // to come back: postscreen cannot hand a session over halfway).
  const deep: DeepTests = {
    ...(todo.pipel ? { pipelining: action(cfg, 'postscreen_pipelining_action') } : {}),
    ...(todo.nsmtp ? { nonSmtp: action(cfg, 'postscreen_non_smtp_command_action'), forbidden: cfg.list('postscreen_forbidden_commands') } : {}),
  };
  await runDummyEngine(socket, {
    config: cfg, clientAddrPort: where, log, deep,
    ...(enforced !== undefined ? { rcptReply: enforced } : {}),
    onDeepPass: async () => {
      const at = Date.now();
      if (todo.pipel) passed.pipel = at + cfg.time('postscreen_pipelining_ttl') * 1000;
      if (todo.nsmtp) passed.nsmtp = at + cfg.time('postscreen_non_smtp_command_ttl') * 1000;
      if (earlyOk) log(`PASS NEW ${where}`);
      if (verdict !== 'reject') await writePass(cfg, deps.logger, client.address, passed);
    },
  });
  return true;
}

/**
 * reportOffence - an early talker counts towards a ban ($mxguard_ban_pregreet, src/bans/).
 * Never waits and never fails the screen: an error is logged and forgotten.
 */
function reportOffence(address: string, deps: ScreenDeps): void {
  recordOffence(address, 'pregreet', { config: deps.config, logger: deps.logger }).catch((e: unknown) => {
    deps.logger.line('postscreen', `warning: [${address}]: pregreet offence not recorded for bans: ${(e as Error).message}`, deps.config.get('syslog_name'));
  });
}

const warned = new WeakSet<Config>();
