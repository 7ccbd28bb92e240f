/**
 * @module config/params/greylist
 * Parameters of the greylist feature (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const greylistParams: ParamDef[] = [
];
