/**
 * @module config/catalogue
 * All parameters mxguard reads, by name. Each room declares its own in `params/<room>.ts`.
 */
import type { ParamDef } from './types.js';
import { coreParams } from './params/core.js';
import { logParams } from './params/log.js';
import { smtpdParams } from './params/smtpd.js';
import { queueParams } from './params/queue.js';
import { deliveryParams } from './params/delivery.js';
import { accessParams } from './params/access.js';
import { dnsParams } from './params/dns.js';
import { dnsblParams } from './params/dnsbl.js';
import { postscreenParams } from './params/postscreen.js';
import { mailauthParams } from './params/mailauth.js';
import { stateParams } from './params/state.js';
import { greylistParams } from './params/greylist.js';
import { limitsParams } from './params/limits.js';
import { bansParams } from './params/bans.js';
import { pregreetParams } from './params/pregreet.js';
import { policydParams } from './params/policyd.js';
import { dnsCheckParams } from './params/dnschecks.js';

export const catalogue: ReadonlyMap<string, ParamDef> = (() => {
  const m = new Map<string, ParamDef>();
  for (const d of [...coreParams, ...logParams, ...smtpdParams, ...queueParams, ...deliveryParams, ...accessParams, ...dnsParams, ...dnsblParams, ...postscreenParams, ...mailauthParams, ...dnsCheckParams, ...stateParams, ...greylistParams, ...limitsParams, ...bansParams, ...pregreetParams, ...policydParams]) {
    if (m.has(d.name)) throw new Error(`parameter declared twice: ${d.name}`);
    m.set(d.name, d);
  }
  return m;
})();
