/**
 * @module config/compat
 * Defaults that depend on compatibility_level, as Postfix 3.x chooses them (postconf(5)
 * COMPATIBILITY_README): a main.cf written for an older Postfix keeps the behaviour it was
 * written for unless it sets the parameter itself.
 */

/** Whether `level` (e.g. "2", "3.6") is at least `min`. */
export function levelAtLeast(level: string, min: string): boolean {
  const a = level.trim().split('.').map((n) => Number(n) || 0);
  const b = min.split('.').map((n) => Number(n) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0, y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Parameter → [the level from which the catalogue default applies, the default below it]. */
const BELOW: Readonly<Record<string, readonly [string, string]>> = {
  // compatibility_level < 2: relay to the domains this host is the destination for.
  relay_domains: ['2', '$mydestination'],
  // compatibility_level < 1: Postfix substitutes a relay list that never rejects (it only logs).
  smtpd_relay_restrictions: ['1', ''],
  // compatibility_level < 3.6: the recipient list runs before the relay list.
  smtpd_relay_before_recipient_restrictions: ['3.6', 'no'],
};

/** The default of `name` at this compatibility level, when it differs from the catalogue's. */
export function compatDefault(name: string, level: string): string | undefined {
  const rule = BELOW[name];
  if (!rule || levelAtLeast(level, rule[0])) return undefined;
  return rule[1];
}
