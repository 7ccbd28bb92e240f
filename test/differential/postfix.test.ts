/**
 * Differential test: every corpus transaction (test/differential/corpus/) on real Postfix and on
 * mxguard with the same main.cf/master.cf; every reply must be the same (code, enhanced status
 * code, text), apart from the deliberate differences in docs/differences.md.
 *
 * Skipped with the reason when Postfix or root is missing, unless MXGUARD_REQUIRE_SYSTEM_DEPS is
 * set. `node dist/test/differential/report.js [config]` prints the disagreements grouped by cause.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, grouped, missingDeps, runDifferential, summaryLine } from './harness.js';

test('mxguard answers every corpus transaction exactly as Postfix does', { timeout: 120_000 }, async (t) => {
  const why = missingDeps();
  if (why) {
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
    console.log(`skipped (differential): ${why}`);
    t.skip(why);
    return;
  }
  const s = await runDifferential(t, { only: process.env.MXGUARD_DIFF_CONFIG || undefined });
  if (!s) return;
  console.log(summaryLine(s));
  assert.deepEqual(s.harnessErrors, [], 'the corpus or the harness is broken (Postfix did not take the XCLIENT attributes, or did not answer)');
  assert.ok(s.transactions >= 300 || process.env.MXGUARD_DIFF_CONFIG, `the corpus needs at least 300 transactions, has ${s.transactions}`);
  assert.ok(s.configs >= 20 || process.env.MXGUARD_DIFF_CONFIG, `the corpus needs at least 20 configurations, has ${s.configs}`);
  const bad = s.results.filter((r) => !r.agree && !r.allowed);
  if (bad.length) {
    const groups = grouped(bad);
    const lines = [`${bad.length} of ${s.transactions} transactions disagree (${groups.length} causes):`];
    for (const r of bad) lines.push(describe(r));
    console.log(lines.join('\n'));
  }
  assert.equal(bad.length, 0, `${bad.length} transactions disagree with Postfix; details above, or run node dist/test/differential/report.js`);
});
