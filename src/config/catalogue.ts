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

export const catalogue: ReadonlyMap<string, ParamDef> = (() => {
  const m = new Map<string, ParamDef>();
  for (const d of [...coreParams, ...logParams, ...smtpdParams, ...queueParams, ...deliveryParams, ...accessParams]) {
    if (m.has(d.name)) throw new Error(`parameter declared twice: ${d.name}`);
    m.set(d.name, d);
  }
  return m;
})();
