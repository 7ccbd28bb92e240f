/**
 * @module engine
 * The policy engine's public surface: evaluate a transaction's restriction lists and get a
 * Decision with its trace; the relay-safety start-up rule; the building blocks the faces and
 * audit/ reuse (network lists, address resolution, the restriction registry).
 */
export type { ClientInfo, Decision, Outcome, Stage, TraceStep, TransactionContext } from './types.js';
export { lintRestrictions, type LintProblem } from './lint.js';
export { checkRelaySafety, evaluateList, evaluateRcpt, evaluateStage, RESTRICTION_LISTS } from './evaluate.js';
export { NetworkList, type NetworkListOptions, type NetworkMatch } from './networks.js';
export { DomainList, type DomainListOptions, type DomainMatch } from './domain-list.js';
export { AddressResolver, authorizedDestination, resolverSettings, type AddressClass, type ResolvedAddress } from './address-class.js';
export { CidrTable } from './cidr-table.js';
export { engineFacts, type EngineFacts } from './facts.js';
export { restrictions, defineRestriction, type RestrictionDef, type RestrictionEnv } from './restrictions/index.js';
export { splitAddress, quoteLocalPart, unquoteLocalPart } from './mailbox.js';
