/**
 * @module config/params/dnsbl
 * Parameters of the dnsbl room (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const dnsblParams: ParamDef[] = [
];
