/**
 * @module config/params/policyd
 * Parameters of the policyd feature (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const policydParams: ParamDef[] = [
];
