/**
 * @module config/params/limits
 * Parameters of the limits feature (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const limitsParams: ParamDef[] = [
];
