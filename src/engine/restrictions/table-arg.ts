/**
 * @module engine/restrictions/table-arg
 * The argument check shared by restrictions that take a lookup table (smtpd_check.c
 * is_map_command()): without `type:name` the request fails with a configuration error.
 */
import { configError } from '../outcome.js';
import type { Outcome } from '../types.js';

export function badTableArg(name: string, arg: string): Outcome | undefined {
  return arg.includes(':') ? undefined : configError(`restriction ${name}: bad argument "${arg}": need maptype:mapname`);
}
