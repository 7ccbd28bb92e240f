/**
 * Report mode of the differential test, for engineers fixing disagreements:
 *
 *   node dist/test/differential/report.js [config-name] [--all] [--transcripts]
 *
 * Starts Postfix and mxguard as the test does, runs the corpus (or one configuration), and
 * prints the disagreements grouped by cause (the command and mxguard's reply, with addresses
 * generalised, and what Postfix answered instead), largest group first, with the transactions of each group. `--all` also prints
 * every transaction of each group instead of the first three; `--transcripts` prints both
 * complete transcripts instead of the replies up to the first difference. Exits 1 when anything disagrees.
 */
import type { TestContext } from 'node:test';
import { describe, grouped, missingDeps, postfixAnswers, runDifferential, summaryLine } from './harness.js';

const args = process.argv.slice(2);
const all = args.includes('--all');
const full = args.includes('--transcripts');
const only = args.find((a) => !a.startsWith('--'));

const cleanups: (() => unknown)[] = [];
const ctx = { name: 'differential report', after: (f: () => unknown) => { cleanups.push(f); }, skip: () => undefined } as unknown as TestContext;

async function cleanup(): Promise<void> {
  for (const f of cleanups.reverse()) { try { await f(); } catch (e) { console.error(`cleanup: ${(e as Error).message}`); } }
  cleanups.length = 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void cleanup().then(() => process.exit(130)); });

let code = 0;
try {
  const why = missingDeps();
  if (why) { console.error(`cannot run: ${why}`); code = 2; } else {
    const s = await runDifferential(ctx, { only, log: (l) => console.error(l) });
    if (s) {
      for (const [c, why2] of s.refused) console.log(`mxguard refused configuration ${c}: ${why2}`);
      for (const e of s.harnessErrors) console.log(`HARNESS/CORPUS ERROR ${e}`);
      const groups = grouped(s.results);
      console.log(summaryLine(s));
      groups.forEach((g, i) => {
        const cfgs = [...new Set(g.items.map((r) => r.config))];
        console.log(`\n#${i + 1} ${g.items.length} transaction(s) in ${cfgs.length} configuration(s) [${cfgs.join(', ')}]\n   ${g.cause}\n   where Postfix answers: ${postfixAnswers(g.items)}`);
        for (const r of all ? g.items : g.items.slice(0, 3)) console.log(describe(r, full).replace(/^/gm, '   '));
        if (!all && g.items.length > 3) console.log(`   … and ${g.items.length - 3} more: ${g.items.slice(3).map((r) => `${r.config}/${r.tx}`).join(', ')}`);
      });
      if (groups.length) code = 1;
    }
  }
} catch (e) {
  console.error(e instanceof Error ? e.stack : e);
  code = 2;
} finally {
  await cleanup();
}
process.exit(code);
