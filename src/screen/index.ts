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
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import { engineFacts } from '../engine/facts.js';
import { healthFor } from '../dnsbl/health.js';
import type { Logger } from '../log/logger.js';
import { openTable } from '../tables/index.js';
import { runDummyEngine } from './dummy.js';
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
  if (sites instanceof Error) {
    if (!warned.has(cfg)) { warned.add(cfg); log(`warning: postscreen_dnsbl_sites: ${sites.message}; connect-time DNS list score disabled`); }
    return false;
  }
  if (!sites.length) return false;
  const facts = engineFacts(cfg);
  const m = facts.mynetworks().match(client.address, client.name);
  if (m && !m.negated) return false;
  const resolver = facts.dns();
  const health = healthFor(cfg, resolver);
  const where = `[${client.address}]:${client.port}`;
  const r: ScoreResult = await dnsblScore(client.address, sites, {
    resolver, health, session: {},
    timeoutMs: cfg.time('postscreen_dnsbl_timeout') * 1000,
    waitMs: cfg.time('postscreen_greet_wait') * 1000,
    allowlistThreshold: cfg.int('postscreen_dnsbl_allowlist_threshold'),
    warn: (text) => log(`warning: ${text}`),
  });
  if (socket.destroyed) return true;
  if (r.score < cfg.int('postscreen_dnsbl_threshold')) return false;
  log(`DNSBL rank ${r.score} for ${where}`);
  const action = cfg.get('postscreen_dnsbl_action').toLowerCase();
  const text = `5.7.1 Service unavailable; client [${client.address}] blocked using ${shownName(cfg, r.top ?? '')}`;
  if (action === 'drop') {
    socket.end(`521 ${text}\r\n`);
    log(`DISCONNECT ${where}`);
    setTimeout(() => socket.destroy(), 2000).unref();
    return true;
  }
  if (action === 'enforce') {
    await runDummyEngine(socket, { config: cfg, rcptReply: `550 ${text}`, clientAddrPort: where, log });
    return true;
  }
  return false;
}

const warned = new WeakSet<Config>();
