/**
 * @module config/params/pregreet
 * Parameters of the pre-greet screen (src/screen/, docs/screen.md): postscreen(8)'s pause before
 * the greeting with early-talker detection, its permanent access list, its cache of clients that
 * passed, and its "deep" protocol tests after the greeting (pipelining, non-SMTP commands).
 * postscreen_greet_wait itself is declared with the DNS list score (params/postscreen.ts).
 */
import { p, type ParamDef } from '../types.js';

const ACTIONS = ['ignore', 'enforce', 'drop'] as const;

export const pregreetParams: ParamDef[] = [
  p.bool('mxguard_pregreet_screen', 'no', 'Whether this service runs postscreen\'s pre-greet screen (the $postscreen_greet_wait pause with early-talker detection, the cache of passed clients, and the deep protocol tests). Set it per service in master.cf on the MX port only (-o mxguard_pregreet_screen=yes); submission services must never be delayed.'),
  p.string('postscreen_greet_banner', '$smtpd_banner', 'The teaser sent as "220-text" when the pause starts (the real "220 …" follows when it ends); clients that answer the first line talk too early. Empty: no teaser.'),
  p.choice('postscreen_greet_action', 'ignore', ACTIONS, 'What happens to a client that talks before its turn: ignore (log only; the test is repeated next time), enforce (go on, and answer each RCPT TO with 550 5.5.1 Protocol error), drop (521 5.5.1 Protocol error and disconnect).'),
  p.time('postscreen_greet_ttl', '1d', 'How long a client that passed the pre-greet test is spared the pause.', { min: 1 }),
  p.time('postscreen_cache_retention_time', '7d', 'How long an expired entry of the cache of passed clients is kept before it is removed.', { min: 0 }),
  p.list('postscreen_access_list', 'permit_mynetworks', 'Permanent allow and deny list checked before the screen, in order: permit_mynetworks, permit, reject, dunno, or type:table (cidr: recommended) answering permit, reject or dunno. A permitted client is ALLOWLISTED and skips every test.'),
  p.choice('postscreen_blacklist_action', 'ignore', ACTIONS, 'Name before Postfix 3.6 of postscreen_denylist_action.'),
  p.choice('postscreen_denylist_action', '$postscreen_blacklist_action', ACTIONS, 'What happens to a client that $postscreen_access_list rejects: ignore (log DENYLISTED and go on with the tests), enforce (550 5.3.2 Service currently unavailable to each RCPT TO), drop (521 5.3.2 and disconnect).'),
  p.bool('postscreen_pipelining_enable', 'no', 'Deep test: a client that sends a command before the answer to the previous one (the stand-in engine does not announce PIPELINING) fails. A new client that passes the deep tests is told 450 4.3.2 at RCPT TO and must reconnect.'),
  p.choice('postscreen_pipelining_action', 'enforce', ACTIONS, 'What happens to a client that fails the pipelining test: ignore, enforce (550 5.5.1 Protocol error to each RCPT TO) or drop (521 5.5.1 Protocol error and disconnect).'),
  p.time('postscreen_pipelining_ttl', '30d', 'How long a client that passed the pipelining test is not tested again.', { min: 1 }),
  p.bool('postscreen_non_smtp_command_enable', 'no', 'Deep test: a client that sends a command of $postscreen_forbidden_commands or a mail header line ("Name: …") fails.'),
  p.choice('postscreen_non_smtp_command_action', 'drop', ACTIONS, 'What happens to a client that fails the non-SMTP command test: ignore, enforce (550 5.5.1 Protocol error to each RCPT TO) or drop (521 5.7.0 Error: I can break rules, too. Goodbye. and disconnect).'),
  p.time('postscreen_non_smtp_command_ttl', '30d', 'How long a client that passed the non-SMTP command test is not tested again.', { min: 1 }),
  p.list('postscreen_forbidden_commands', 'CONNECT GET POST', 'Commands that the non-SMTP command test treats as a proxy or web request.', { postfixDefault: '$smtpd_forbidden_commands (whose default is CONNECT GET POST)' }),
];
