/**
 * @module engine/restrictions
 * The registry: every implemented restriction by its Postfix spelling. A name missing here is
 * an unknown restriction to the evaluator (451 4.3.5 Server configuration error), never a
 * silent skip.
 */
import { accessRestrictions } from './access-checks.js';
import { rateRestrictions } from './rate.js';
import { addressRestrictions } from './address.js';
import { clientRestrictions } from './client.js';
import type { RestrictionDef } from './define.js';
import { dnsRestrictions } from './dns.js';
import { dnsblRestrictions } from './dnsbl.js';
import { dnsCheckRestrictions } from './dns-checks.js';
import { genericRestrictions } from './generic.js';
import { greylistRestrictions } from './greylist.js';
import { heloRestrictions } from './helo.js';
import { legacyRestrictions } from './legacy.js';
import { recipientMapRestrictions } from './recipient-maps.js';
import { relayRestrictions } from './relay.js';
import { saslRestrictions } from './sasl.js';
import { serverAccessRestrictions } from './server-access.js';
import { sessionRestrictions } from './session.js';
import { tlsRestrictions } from './tls.js';

export type { ReplySubject, RestrictionDef, RestrictionEnv, RunState } from './define.js';
export { defineRestriction } from './define.js';

export const restrictions: ReadonlyMap<string, RestrictionDef> = (() => {
  const m = new Map<string, RestrictionDef>();
  for (const d of [...genericRestrictions, ...clientRestrictions, ...relayRestrictions, ...recipientMapRestrictions, ...accessRestrictions,
    ...heloRestrictions, ...addressRestrictions, ...sessionRestrictions, ...saslRestrictions, ...tlsRestrictions,
    ...dnsRestrictions, ...dnsblRestrictions, ...dnsCheckRestrictions, ...serverAccessRestrictions, ...legacyRestrictions,
    ...greylistRestrictions, ...rateRestrictions]) {
    if (m.has(d.name)) throw new Error(`restriction declared twice: ${d.name}`);
    m.set(d.name, d);
  }
  return m;
})();
