/**
 * Shared pieces of the tables/ tests: temp dirs removed after each test, and the real Postfix
 * postmap(1) as the oracle for differential checks. Without postmap the differential test is
 * skipped with the reason, unless MXGUARD_REQUIRE_SYSTEM_DEPS is set: then it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { LookupTable } from '../../src/tables/index.js';

export const POSTMAP = '/usr/sbin/postmap';

/** tmp - a fresh directory, removed when the test ends. */
export function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-tables-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** write - a file in dir with the given lines; returns its path. */
export function write(dir: string, name: string, lines: readonly string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

function skipOrFail(t: TestContext, why: string): false {
  if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
  console.log(`skipped (${t.name}): ${why}`);
  t.skip(why);
  return false;
}

/** needPostmap - true when postmap can query `type` tables; otherwise skipped (or failed, see above). */
export function needPostmap(t: TestContext, type: string): boolean {
  if (!existsSync(POSTMAP)) return skipOrFail(t, `${POSTMAP} not found (install postfix)`);
  const types = spawnSync('/usr/sbin/postconf', ['-m'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  if (!types.split('\n').includes(type)) return skipOrFail(t, `postmap has no ${type}: tables (postconf -m; install postfix-${type})`);
  return true;
}

/**
 * postmapQuery - what the real postmap answers for each key: a batch through `postmap -q -`
 * (one key per line), one `postmap -q KEY` per key that holds a newline. A warning from
 * postmap means the table is not a fair test case, so it fails the test.
 */
export function postmapQuery(spec: string, keys: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const batch = keys.filter((k) => !/[\n\t]/.test(k) && k !== '' && k.trim() === k);
  const single = keys.filter((k) => !batch.includes(k));
  const r = spawnSync(POSTMAP, ['-q', '-', spec], { input: batch.map((k) => `${k}\n`).join(''), encoding: 'utf8', timeout: 20_000 });
  assert.ok(r.status === 0 || r.status === 1, `postmap -q - ${spec}: status ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr, '', `postmap warned about ${spec}`);
  for (const line of r.stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  for (const k of single) {
    const s = spawnSync(POSTMAP, ['-q', k, spec], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(s.stderr, '', `postmap warned about ${spec}`);
    if (s.status === 0) out.set(k, s.stdout.replace(/\n$/, ''));
  }
  return out;
}

/** differ - every key where our table and postmap disagree, as readable lines (empty when none). */
export function differ(table: LookupTable, spec: string, keys: readonly string[]): string[] {
  const theirs = postmapQuery(spec, keys);
  const bad: string[] = [];
  for (const k of keys) {
    const ours = table.lookup(k);
    if (ours !== theirs.get(k)) bad.push(`${spec} ${JSON.stringify(k)}: mxguard ${JSON.stringify(ours)}, postmap ${JSON.stringify(theirs.get(k))}`);
  }
  return bad;
}
