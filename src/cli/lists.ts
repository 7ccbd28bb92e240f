/**
 * @module cli/lists
 * `mxguard lists [--config DIR] [--json] [--check]`: every DNS list the configuration names, with
 * the state the running server last wrote to $mxguard_dnsbl_health_file: healthy, degraded or
 * refusing, why, the last answer, and the hit rate (listed / answered). `--check` asks each
 * list's RFC 5782 test points now, from this process, through $mxguard_dns_servers.
 * Exit status: 0 when every list is healthy (or unknown), 1 when one is degraded or refusing.
 */
import { loadConfig } from '../config/load.js';
import { resolverFor } from '../dns/index.js';
import { configuredLists, ListHealthRegistry, readAllHealthFiles, type ListHealth } from '../dnsbl/index.js';

export interface ListsOptions { config?: string; json?: boolean; check?: boolean }

interface Row {
  list: string;
  state: ListHealth['state'] | 'unknown';
  reason: string;
  usedBy: string[];
  lastAnswer?: ListHealth['lastAnswer'];
  since?: string;
  queries: number;
  listed: number;
  notListed: number;
  failures: number;
  refusals: number;
  skipped: number;
  hitRate?: number;
  configured: boolean;
}

function row(domain: string, usedBy: string[], h: ListHealth | undefined, configured: boolean): Row {
  const answered = h ? h.listed + h.notListed : 0;
  return {
    list: domain, state: h?.state ?? 'unknown', reason: h ? h.reason : 'no state yet (is the server running?)', usedBy,
    lastAnswer: h?.lastAnswer, since: h ? new Date(h.since).toISOString() : undefined,
    queries: h?.queries ?? 0, listed: h?.listed ?? 0, notListed: h?.notListed ?? 0, failures: h?.failures ?? 0,
    refusals: h?.refusals ?? 0, skipped: h?.skipped ?? 0, hitRate: answered ? h!.listed / answered : undefined, configured,
  };
}

/** listsCommand - prints the table (or JSON); returns the exit status. */
export async function listsCommand(o: ListsOptions): Promise<number> {
  const { config } = loadConfig({ dir: o.config });
  const lists = configuredLists(config);
  const file = config.get('mxguard_dnsbl_health_file');
  let states = new Map<string, ListHealth>();
  let written: string | undefined;
  if (o.check) {
    const reg = new ListHealthRegistry({
      failureLimit: 1, retryMs: 1000, retryMaxMs: 1000, resolver: resolverFor(config),
    });
    for (const l of lists) for (const k of l.kinds) reg.watch(l.domain, k);
    await Promise.all(lists.map((l) => reg.canary(l.domain)));
    states = new Map(reg.all().map((h) => [h.domain, h]));
    written = 'now (--check)';
  } else {
    const doc = readAllHealthFiles(file);
    if (doc) { states = new Map(doc.lists.map((h) => [h.domain, h])); written = doc.written; }
  }
  const rows = lists.map((l) => row(l.domain, l.usedBy, states.get(l.domain), true));
  for (const [d, h] of states) if (!lists.some((l) => l.domain === d)) rows.push(row(d, [], h, false));
  if (o.json) {
    process.stdout.write(JSON.stringify({ stateFile: file, written: written ?? null, lists: rows }, null, 2) + '\n');
  } else if (!rows.length) {
    process.stdout.write('no DNS lists configured\n');
  } else {
    const pct = (r: Row) => (r.hitRate === undefined ? '-' : `${(r.hitRate * 100).toFixed(1)}% of ${r.listed + r.notListed}`);
    const last = (r: Row) => (r.lastAnswer ? `${r.lastAnswer.name} ${r.lastAnswer.answer}` : '-');
    const table = [['LIST', 'STATE', 'HIT RATE', 'LAST ANSWER', 'NOTE'], ...rows.map((r) => [
      r.list, r.state, pct(r), last(r), [r.reason, r.configured ? '' : 'no longer configured'].filter(Boolean).join('; ') || '-',
    ])];
    const w = table[0]!.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
    for (const t of table) process.stdout.write(t.map((c, i) => (i === t.length - 1 ? c : c.padEnd(w[i]!))).join('  ') + '\n');
    process.stdout.write(written ? `(state of ${written}, from ${file})\n` : `(no state file ${file} yet)\n`);
  }
  return rows.some((r) => r.state === 'degraded' || r.state === 'refusing') ? 1 : 0;
}
