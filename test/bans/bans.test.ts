/**
 * The ban logic on a MemoryStore with an explicit clock: thresholds per reason within the find
 * time, growing ban time for repeat offenders up to the maximum, the allowlist, manual bans,
 * and the nftables export.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/config/config.js';
import { activeBan, banAddress, banDuration, countOffence, isBanExempt, listBans, unban } from '../../src/bans/bans.js';
import { renderNft } from '../../src/cli/bans.js';
import { MemoryStore } from '../../src/state/memory.js';

function config(settings: Record<string, string>): Config {
  return new Config(new Map(Object.entries({ myhostname: 'mx.example.test', mynetworks: '127.0.0.0/8', ...settings }).map(([k, v]) => [k, { value: v, file: 'main.cf', line: 1 }])), new Map());
}

test('N failed AUTH attempts within the find time ban; fewer, or spread out, do not', async () => {
  let now = 5_000_000;
  const store = new MemoryStore(() => now);
  const cfg = config({ mxguard_ban_auth_failures: '3', mxguard_ban_find_time: '60s', mxguard_ban_time: '100s' });
  assert.deepEqual(await countOffence(store, cfg, '192.0.2.9', 'auth_failure', now), { count: 1, threshold: 3 });
  now += 61_000; // the first one left the window
  await countOffence(store, cfg, '192.0.2.9', 'auth_failure', now);
  assert.equal((await countOffence(store, cfg, '192.0.2.9', 'auth_failure', now))?.ban, undefined);
  const r = await countOffence(store, cfg, '192.0.2.9', 'auth_failure', now);
  assert.equal(r?.ban?.reason, 'auth_failure');
  assert.equal(r?.ban?.until, now + 100_000);
  assert.match(r!.log!, /^ban: client \[192\.0\.2\.9\] banned for 100s until .* \(ban 1\): 3 failed AUTH attempts within 60s \(reason=auth_failure\)$/);
  assert.ok(await activeBan(store, '192.0.2.9'));
  assert.equal(await countOffence(store, cfg, '192.0.2.9', 'auth_failure', now), undefined, 'already banned: not counted');
  now += 100_000;
  assert.equal(await activeBan(store, '192.0.2.9'), undefined, 'the ban expired');
  // A reason with threshold 0 never bans.
  assert.equal(await countOffence(store, cfg, '192.0.2.9', 'pregreet', now), undefined);
});

test('repeat offenders: ban time × factor each time, capped at the maximum; history forgotten later', async () => {
  let now = 1_000_000;
  const store = new MemoryStore(() => now);
  const cfg = config({ mxguard_ban_error_limit: '1', mxguard_ban_time: '10m', mxguard_ban_time_factor: '3', mxguard_ban_max_time: '1h', mxguard_ban_history_time: '1d' });
  assert.deepEqual([1, 2, 3, 4].map((n) => banDuration(cfg, n) / 1000), [600, 1800, 3600, 3600]);
  const lengths: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await countOffence(store, cfg, '198.51.100.4', 'error_limit', now);
    lengths.push((r!.ban!.until - r!.ban!.since) / 1000);
    assert.equal(r!.ban!.count, i + 1);
    now = r!.ban!.until;
  }
  assert.deepEqual(lengths, [600, 1800, 3600, 3600]);
  now += 86400_000 + 1;
  const fresh = await countOffence(store, cfg, '198.51.100.4', 'error_limit', now);
  assert.equal(fresh!.ban!.count, 1, 'after the history time a ban is a first ban again');
});

test('the allowlist always wins: $mynetworks and $mxguard_ban_exceptions are never banned', async () => {
  const store = new MemoryStore();
  const cfg = config({ mxguard_ban_rejects: '1', mxguard_ban_exceptions: '192.0.2.0/28, [2001:db8::]/32' });
  assert.ok(isBanExempt(cfg, '127.0.0.5'));
  assert.ok(isBanExempt(cfg, '192.0.2.3'));
  assert.ok(isBanExempt(cfg, '2001:db8::7'));
  assert.ok(!isBanExempt(cfg, '192.0.2.30'));
  for (const a of ['127.0.0.5', '192.0.2.3', '2001:db8::7']) assert.equal(await countOffence(store, cfg, a, 'reject'), undefined);
  assert.ok((await countOffence(store, cfg, '192.0.2.30', 'reject'))?.ban);
  assert.deepEqual((await listBans(store)).map((b) => b.address), ['192.0.2.30']);
});

test('manual bans, unban, listing and the nftables export', async () => {
  const now = Date.now();
  const store = new MemoryStore();
  const cfg = config({});
  await banAddress(store, cfg, '::FFFF:203.0.113.5', 'spam run', 'manual', now, 3600_000);
  await banAddress(store, cfg, '2001:DB8::5', 'manual', 'manual', now);
  const all = await listBans(store);
  assert.deepEqual(all.map((b) => [b.address, b.reason, b.source]), [['203.0.113.5', 'spam run', 'manual'], ['2001:db8::5', 'manual', 'manual']]);
  const nft = renderNft(all, { set: 'blocked', table: 'mxguard', family: 'inet' }, now);
  assert.match(nft, /^add table inet mxguard$/m);
  assert.match(nft, /^add set inet mxguard blocked \{ type ipv4_addr; flags timeout; \}$/m);
  assert.match(nft, /^add set inet mxguard blocked6 \{ type ipv6_addr; flags timeout; \}$/m);
  assert.match(nft, /^add element inet mxguard blocked \{ 203\.0\.113\.5 timeout 3600s \} # spam run$/m);
  assert.match(nft, /^add element inet mxguard blocked6 \{ 2001:db8::5 timeout 600s \} # manual$/m);
  assert.ok(await unban(store, '203.0.113.5'));
  assert.ok(!(await unban(store, '203.0.113.5')));
  assert.equal((await listBans(store)).length, 1);
});
