/**
 * @module config/params/state
 * Parameters of the shared state store (src/state/) and of the features that keep state in it.
 */
import type { ParamDef } from '../types.js';

export const stateParams: ParamDef[] = [
];
