/**
 * @module cli/bans
 * `mxguard bans list|add|remove|export [--config DIR]`: the bans the server keeps in its state
 * store ($mxguard_state_store; docs/bans.md). With the default SQLite store, or Redis, this
 * command and a running server see the same bans; with `memory:` it sees only its own empty
 * store, and says so on standard error.
 *
 * Exit status: 0 done; 1 not done (no such ban on remove, an allowlisted or malformed address
 * on add, configuration or store error).
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { banAddress, isBanExempt, listBans, normalizeAddress, unban, type BanRecord } from '../bans/index.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import { parseTime } from '../config/values.js';
import { isProcessLocal, limitsStore } from '../limits/store.js';
import { closeStores } from '../state/index.js';

interface Common { config?: string }

function setup(o: Common) {
  const { config } = loadConfig({ dir: o.config });
  if (isProcessLocal(config)) process.stderr.write('mxguard: warning: mxguard_state_store is memory: this command cannot see or change the bans of a running server\n');
  return config;
}

const left = (until: number, now: number) => Math.max(0, Math.ceil((until - now) / 1000));

/** renderList - one line per ban: address, seconds left, expiry, ban number, source, reason. */
export function renderList(bans: readonly BanRecord[], now = Date.now()): string {
  if (!bans.length) return '';
  const rows = bans.map((b) => [b.address, `${left(b.until, now)}s`, new Date(b.until).toISOString(), `#${b.count}`, b.source, b.reason]);
  const head = ['ADDRESS', 'LEFT', 'UNTIL', 'BAN', 'SOURCE', 'REASON'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}

/** renderNft - an `nft -f` script: a table with one timeout set per address family, and the bans as elements. */
export function renderNft(bans: readonly BanRecord[], o: { set: string; table: string; family: string }, now = Date.now()): string {
  const set4 = o.set, set6 = `${o.set}6`;
  const out = [
    `# mxguard bans at ${new Date(now).toISOString()}: load with nft -f; match with "ip saddr @${set4}" and "ip6 saddr @${set6}"`,
    `add table ${o.family} ${o.table}`,
    `add set ${o.family} ${o.table} ${set4} { type ipv4_addr; flags timeout; }`,
    `add set ${o.family} ${o.table} ${set6} { type ipv6_addr; flags timeout; }`,
  ];
  for (const b of bans) {
    const secs = left(b.until, now);
    if (secs <= 0) continue;
    const v = isIP(b.address);
    if (!v) continue;
    out.push(`add element ${o.family} ${o.table} ${v === 4 ? set4 : set6} { ${b.address} timeout ${secs}s } # ${b.reason.replace(/[\r\n]/g, ' ')}`);
  }
  return out.join('\n') + '\n';
}

async function withStore<T>(o: Common, f: (cfg: ReturnType<typeof setup>, store: Awaited<ReturnType<typeof limitsStore>>) => Promise<T>): Promise<T> {
  const cfg = setup(o);
  const store = await limitsStore(cfg);
  try { return await f(cfg, store); } finally { await closeStores(); }
}

function fail(msg: string): number { process.stderr.write(`mxguard: ${msg}\n`); return 1; }

type Runner = (fn: () => Promise<number>) => Promise<void>;

export function registerBansCommand(program: Command, run: Runner): Command {
  const bans = program.command('bans').description('list, add, remove or export the bans of clients (fail2ban inside the server; docs/bans.md)');
  const cfgOpt = ['-c, --config <dir>', 'directory with main.cf and master.cf'] as const;
  bans.command('list').description('print the current bans (address, time left, expiry, ban number, source, reason)')
    .option(...cfgOpt).option('--json', 'print one JSON document')
    .action((o: Common & { json?: boolean }) => run(() => withStore(o, async (_cfg, store) => {
      const all = await listBans(store);
      process.stdout.write(o.json ? JSON.stringify(all, null, 2) + '\n' : renderList(all));
      return 0;
    })));
  bans.command('add').argument('<address>', 'client IPv4 or IPv6 address').description('ban a client now')
    .option(...cfgOpt).option('--reason <text>', 'why (shown by list and in the 421 reply)', 'manual')
    .option('--time <duration>', 'ban length such as 600s, 2h, 1d (default: $mxguard_ban_time, growing for repeat offenders)')
    .action((address: string, o: Common & { reason: string; time?: string }) => run(() => withStore(o, async (cfg, store) => {
      const addr = normalizeAddress(address);
      if (!isIP(addr)) return fail(`bans add: not an IP address: ${address}`);
      if (isBanExempt(cfg, addr)) return fail(`bans add: ${addr} is in $mynetworks or $mxguard_ban_exceptions, which are never banned`);
      let ms: number | undefined;
      if (o.time !== undefined) {
        const s = parseTime(o.time);
        if (s === undefined || s <= 0) throw new ConfigError(`bans add: bad --time "${o.time}" (a number with an optional unit s, m, h, d or w)`);
        ms = s * 1000;
      }
      const rec = await banAddress(store, cfg, addr, o.reason, 'manual', Date.now(), ms);
      process.stdout.write(`${rec.address} banned until ${new Date(rec.until).toISOString()} (ban ${rec.count}): ${rec.reason}\n`);
      return 0;
    })));
  bans.command('remove').argument('<address>', 'client address').description('lift a ban (the client\'s ban history stays)')
    .option(...cfgOpt)
    .action((address: string, o: Common) => run(() => withStore(o, async (_cfg, store) => {
      const addr = normalizeAddress(address);
      if (!(await unban(store, addr))) return fail(`bans remove: ${addr} is not banned`);
      process.stdout.write(`${addr} unbanned\n`);
      return 0;
    })));
  bans.command('export').description('print the bans for a firewall')
    .option(...cfgOpt).requiredOption('--nft', 'as an nftables script (nft -f)')
    .option('--set <name>', 'name of the IPv4 set; the IPv6 set gets a "6" suffix', 'mxguard_bans')
    .option('--table <name>', 'nftables table', 'mxguard')
    .option('--family <family>', 'nftables table family', 'inet')
    .action((o: Common & { set: string; table: string; family: string }) => run(() => withStore(o, async (_cfg, store) => {
      for (const [k, v] of [['set', o.set], ['table', o.table], ['family', o.family]] as const) {
        if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(v)) throw new ConfigError(`bans export: bad --${k} "${v}"`);
      }
      process.stdout.write(renderNft(await listBans(store), o));
      return 0;
    })));
  return bans;
}
