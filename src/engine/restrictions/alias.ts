/**
 * @module engine/restrictions/alias
 * Old names that Postfix 3.7 still accepts for a current restriction (smtpd_check.c compares
 * both spellings in one branch). An alias is its target under another name: same arguments,
 * same evaluation, same replies; only the name in traces and the doc line differ.
 */
import { defineRestriction, type RestrictionDef } from './define.js';

export function alias(name: string, target: RestrictionDef, history: string): RestrictionDef {
  return defineRestriction({ ...target, name, doc: `${history}; same as ${target.name}. ${target.doc}` });
}
