/**
 * @module config/params/bans
 * Parameters of the bans feature (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const bansParams: ParamDef[] = [
];
