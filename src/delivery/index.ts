/**
 * @module delivery
 * Delivery agents and transport selection. The queue manager asks `resolveTransport()` where a
 * recipient goes, groups recipients by (transport, nexthop), and hands each group to
 * `agentFor(transport).deliver()`.
 *
 * Transport names (master.cf service names of a Postfix installation):
 * virtual → Maildir, lmtp → LMTP, smtp and relay → SMTP, discard, error (bounce), retry (defer).
 * A master.cf service with another name runs the agent of its command (`slow unix - - n - 1
 * smtp` is an smtp client named "slow"): pass the command as the second argument.
 */
import type { DeliveryAgent } from './types.js';
import { maildirAgent } from './maildir.js';
import { createLmtpAgent } from './lmtp.js';
import { createSmtpAgent } from './smtp.js';
import { discardAgent } from './discard.js';
import { errorAgent, retryAgent } from './error.js';

export type { DeliveryAgent, DeliveryRecipient, DeliveryRequest, RecipientResult } from './types.js';
export { resolveTransport, clearTableCache, type TransportChoice } from './transport.js';
export { createSmtpAgent, type MxResolver, type SmtpAgentOptions } from './smtp.js';
export { createLmtpAgent, type LmtpAgentOptions } from './lmtp.js';

const smtpAgent = createSmtpAgent();
const lmtpAgent = createLmtpAgent();

const AGENTS: Readonly<Record<string, DeliveryAgent>> = {
  virtual: maildirAgent,
  lmtp: lmtpAgent,
  smtp: smtpAgent,
  relay: smtpAgent,
  discard: discardAgent,
  error: errorAgent,
  retry: retryAgent,
};

/**
 * agentFor - the agent for a transport name, or for the master.cf command that runs it;
 * undefined when mxguard has none (e.g. Postfix's `local`, `pipe`): the caller defers the mail
 * with "unknown mail transport", as qmgr(8) does.
 */
export function agentFor(transport: string, command?: string): DeliveryAgent | undefined {
  const own = Object.hasOwn(AGENTS, transport) ? AGENTS[transport] : undefined;
  if (own) return own;
  return command !== undefined && Object.hasOwn(AGENTS, command) ? AGENTS[command] : undefined;
}
