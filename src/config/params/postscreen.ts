/**
 * @module config/params/postscreen
 * Parameters of the postscreen room (see docs/configuration.md).
 */
import type { ParamDef } from '../types.js';

export const postscreenParams: ParamDef[] = [
];
