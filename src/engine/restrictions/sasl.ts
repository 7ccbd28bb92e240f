/**
 * @module engine/restrictions/sasl
 * Who may use which sender address (postconf(5) smtpd_sender_login_maps and the
 * *_sender_login_mismatch restrictions; smtpd_check.c reject_auth_sender_login_mismatch(),
 * reject_unauth_sender_login_mismatch()).
 *
 * $smtpd_sender_login_maps gives, for a sender address, its owners: SASL login names
 * separated by commas or spaces, compared without regard to case. The sender is first
 * resolved (canonical, lower-cased, `@$myorigin` added when it has no domain), then looked up
 * as mail_addr_find() does: `user+ext@domain`, `user@domain` (with $recipient_delimiter), then
 * `user+ext` and `user` when the domain is $myorigin or local, then `@domain`. Key by key,
 * every table in order; pattern tables (regexp, pcre, cidr) only see the first, whole key.
 *
 * - authenticated mismatch: a logged-in client must be an owner. An address no table lists
 *   has no owner, so it is refused too (also when $smtpd_sender_login_maps is empty).
 * - unauthenticated mismatch: a client that is not logged in may not use an address that
 *   has an owner.
 * - known mismatch (Postfix 2.11): as authenticated, but an unlisted address is allowed; for a
 *   client that is not logged in, as unauthenticated.
 * - reject_sender_login_mismatch: Postfix's built-in restriction class "authenticated, then
 *   unauthenticated".
 * All skip the null sender, and do nothing (Postfix warns "no SASL support") when
 * smtpd_sasl_auth_enable = no. Replies are 553 5.7.1, fixed, and always name the sender as
 * "Sender address".
 * XXX: Postfix also tries the quoted (external) form of a key whose local part needs quotes.
 */
import { optionalParam } from '../address-class.js';
import { dunno, policyReply, reject } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { noInput } from './generic.js';

interface Owners { readonly owners: readonly string[]; readonly table: string; readonly key: string }

/** split_addr(): the local part without its extension, or undefined when it has none. */
function stripExtension(localPart: string, delimiters: string): string | undefined {
  if (delimiters === '') return undefined;
  const lp = localPart.toLowerCase();
  // Postfix does not split owner-list or list-request, nor :include:.
  if (delimiters.includes('-') && (lp.startsWith('owner-') || (lp.length > 8 && lp.endsWith('-request')))) return undefined;
  if (lp.startsWith(':include:')) return undefined;
  for (let i = 0; i < localPart.length; i++) {
    if (delimiters.includes(localPart[i]!)) return localPart.slice(0, i);
  }
  return undefined;
}

/** mail_addr_find() keys for a resolved address. */
export function loginMapKeys(env: RestrictionEnv, address: string): string[] {
  const cfg = env.facts.config;
  const resolver = env.facts.resolver();
  const r = resolver.resolve(address);
  const bare = stripExtension(r.localPart, optionalParam(cfg, 'recipient_delimiter', ''));
  const keys = [r.recipient];
  if (bare !== undefined) keys.push(`${bare}@${r.domain}`);
  if (r.domain === cfg.get('myorigin').toLowerCase() || resolver.isLocalDomain(r.domain)) {
    keys.push(r.localPart);
    if (bare !== undefined) keys.push(bare);
  }
  keys.push(`@${r.domain}`);
  return keys;
}

/** The owners of a sender address, or undefined when no table lists it. */
function ownersOf(env: RestrictionEnv, sender: string): { found?: Owners; keys: string[] } {
  const keys = loginMapKeys(env, sender);
  const tables = env.facts.maps('smtpd_sender_login_maps');
  for (let i = 0; i < keys.length; i++) {
    for (const t of tables) {
      if (i > 0 && t.pattern) continue;
      const v = t.lookup(keys[i]!);
      if (v !== undefined) return { found: { owners: v.split(/[,\s]+/).filter(Boolean), table: t.spec, key: keys[i]! }, keys };
    }
  }
  return { keys };
}

type Check = (env: RestrictionEnv, sender: string) => Outcome;

/** Common preconditions: SASL enabled, a non-null sender. */
function guard(env: RestrictionEnv, check: Check): Outcome {
  if (!env.facts.config.bool('smtpd_sasl_auth_enable')) return dunno(`ignored: no SASL support (smtpd_sasl_auth_enable = no)`);
  const sender = env.tx.sender;
  if (!sender) return noInput('non-null sender');
  return check(env, sender);
}

function authenticatedMismatch(allowUnlisted: boolean): Check {
  return (env, sender) => {
    const login = env.tx.sasl?.username;
    if (login === undefined) return dunno('the client is not logged in');
    const { found, keys } = ownersOf(env, sender);
    if (found && found.owners.some((o) => o.toLowerCase() === login.toLowerCase())) {
      return dunno(`${login} owns ${sender} (${found.table}, key ${found.key})`);
    }
    if (!found && allowUnlisted) return dunno(`${sender} has no owner in smtpd_sender_login_maps (keys ${keys.join(', ')})`);
    return reject(
      policyReply(553, '7.1', `<${sender}>: Sender address rejected: not owned by user ${login}`),
      found ? `${sender} belongs to ${found.owners.join(', ')} (${found.table}, key ${found.key}), not to ${login}`
        : `${sender} has no owner in smtpd_sender_login_maps (keys ${keys.join(', ')})`);
  };
}

const unauthenticatedMismatch: Check = (env, sender) => {
  if (env.tx.sasl !== undefined) return dunno(`the client is logged in as ${env.tx.sasl.username}`);
  const { found, keys } = ownersOf(env, sender);
  if (!found) return dunno(`${sender} has no owner in smtpd_sender_login_maps (keys ${keys.join(', ')})`);
  return reject(
    policyReply(553, '7.1', `<${sender}>: Sender address rejected: not logged in`),
    `${sender} belongs to ${found.owners.join(', ')} (${found.table}, key ${found.key}) and the client is not logged in`);
};

export const saslRestrictions = [
  defineRestriction({
    name: 'reject_authenticated_sender_login_mismatch',
    mayPermit: false,
    doc: 'Reject a logged-in client whose login name is not an owner of the MAIL FROM address in $smtpd_sender_login_maps (553 5.7.1 … not owned by user LOGIN).',
    evaluate: (env) => guard(env, authenticatedMismatch(false)),
  }),
  defineRestriction({
    name: 'reject_unauthenticated_sender_login_mismatch',
    mayPermit: false,
    doc: 'Reject a client that is not logged in when the MAIL FROM address has an owner in $smtpd_sender_login_maps (553 5.7.1 … not logged in).',
    evaluate: (env) => guard(env, unauthenticatedMismatch),
  }),
  defineRestriction({
    name: 'reject_known_sender_login_mismatch',
    mayPermit: false,
    doc: 'As reject_sender_login_mismatch, but a logged-in client may use an address that $smtpd_sender_login_maps does not list.',
    evaluate: (env) => guard(env, (e, s) => (e.tx.sasl ? authenticatedMismatch(true)(e, s) : unauthenticatedMismatch(e, s))),
  }),
  defineRestriction({
    name: 'reject_sender_login_mismatch',
    mayPermit: false,
    doc: 'reject_authenticated_sender_login_mismatch, then reject_unauthenticated_sender_login_mismatch (Postfix\'s built-in restriction class).',
    evaluate(env) {
      const first = guard(env, authenticatedMismatch(false));
      if (first.kind !== 'dunno') return first;
      const second = guard(env, unauthenticatedMismatch);
      return second.kind === 'dunno' ? dunno(`${first.note}; ${second.note}`) : second;
    },
  }),
];

