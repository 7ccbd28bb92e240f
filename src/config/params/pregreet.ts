/**
 * @module config/params/pregreet
 * Parameters of the pregreet feature (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const pregreetParams: ParamDef[] = [
];
