/**
 * @module config/params/dns
 * Parameters of the dns room (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const dnsParams: ParamDef[] = [
];
