/**
 * @module engine/cidr-table
 * The cidr: table moved to tables/cidr (the lookup tables room); this re-export keeps the
 * engine's imports working.
 */
export { CidrTable, inNetwork, parseClientAddress, parseNetwork, type Network } from '../tables/cidr.js';
