/**
 * @module config/params/mailauth
 * Parameters of the mailauth room (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const mailauthParams: ParamDef[] = [
];
