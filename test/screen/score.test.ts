/**
 * The connect-time DNS list score in postscreen's form (src/screen/score.ts, sites.ts), against
 * the real test DNS server: weights, filters, allow lists, the list named in the reply, and early
 * allowlisting (pending lists are not waited for: checked by what is still pending, not by time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsblScore, parseSite, parseSites } from '../../src/screen/index.js';
import { ListHealthRegistry } from '../../src/dnsbl/health.js';
import { createResolver } from '../../src/dns/index.js';
import { startDnsServer, type ZoneRecord } from '../helpers/dns-server.js';

const A = (name: string, data: string): ZoneRecord => ({ name, type: 'A', data });

test('postscreen_dnsbl_sites syntax: *weight first, then =filter, then the domain', () => {
  assert.deepEqual({ ...parseSite('zen.test*3'), filter: undefined }, { pattern: 'zen.test*3', domain: 'zen.test', filter: undefined, weight: 3 });
  const s = parseSite('list.dnswl.test=127.0.[0..255].[1..3]*-5');
  assert.equal(s.domain, 'list.dnswl.test');
  assert.equal(s.weight, -5);
  assert.equal(s.filter?.text, '127.0.[0..255].[1..3]');
  assert.equal(parseSite('bl.test').weight, 1);
  assert.throws(() => parseSite('bl.test*x'), /bad DNSBL weight factor "x" in "bl.test\*x"/);
  assert.throws(() => parseSite('bl.test=127.0.0*2'), /bad DNSBL filter syntax/);
  assert.throws(() => parseSite('bad domain*2'), /bad DNSBL domain name/);
});

async function setup(t: { after(fn: () => unknown): void }) {
  const dns = await startDnsServer(t, {
    records: [
      // 127.0.0.10: in bl1 (127.0.0.2) and bl2 (127.0.0.3); 127.0.0.11: bl2 127.0.0.4 only; 127.0.0.12: bl1 and wl.
      A('10.0.0.127.bl1.test', '127.0.0.2'), A('10.0.0.127.bl2.test', '127.0.0.3'),
      A('11.0.0.127.bl2.test', '127.0.0.4'),
      A('12.0.0.127.bl1.test', '127.0.0.2'), A('12.0.0.127.wl.test', '127.0.2.2'),
      A('13.0.0.127.spam.spamhaus.org', '127.255.255.254'),
    ],
  });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1500, attemptTimeoutMs: 500, temporaryTtl: 0 });
  const health = new ListHealthRegistry({ failureLimit: 2, retryMs: 60000, retryMaxMs: 60000, resolver });
  const opts = { resolver, health, timeoutMs: 1500, waitMs: 3000, allowlistThreshold: 0, session: {}, warn: () => undefined };
  return { dns, resolver, health, opts };
}

test('the score adds each matching pattern\'s weight once; the reply names the heaviest', async (t) => {
  const { opts } = await setup(t);
  const sites = parseSites(['bl1.test*2', 'bl2.test=127.0.0.[2..3]*3', 'bl2.test*1', 'wl.test*-5', 'spam.spamhaus.org*4']);
  let r = await dnsblScore('127.0.0.10', sites, { ...opts, session: {} });
  assert.equal(r.score, 6);                      // bl1 2 + bl2 (filter) 3 + bl2 1
  assert.equal(r.top, 'bl2.test');
  r = await dnsblScore('127.0.0.11', sites, { ...opts, session: {} });
  assert.equal(r.score, 1);                      // 127.0.0.4 misses the filter
  r = await dnsblScore('127.0.0.12', sites, { ...opts, session: {} });
  assert.equal(r.score, -3);
  assert.equal(r.top, 'bl1.test');
  // A refusal code is no listing.
  r = await dnsblScore('127.0.0.13', sites, { ...opts, session: {} });
  assert.equal(r.score, 0);
  assert.equal(r.top, undefined);
});

test('allowlisted early: once the score cannot rise above the allowlist threshold, slow lists are not waited for', async (t) => {
  const { dns, opts } = await setup(t);
  dns.setBehaviour('slow.test', { delayMs: 2500 });
  const sites = parseSites(['wl.test*-5', 'slow.test*-1', 'bl1.test*2']);
  const r = await dnsblScore('127.0.0.12', sites, { ...opts, session: {}, allowlistThreshold: -2 });
  assert.ok(r.allowlistedEarly);
  assert.equal(r.answers.get('slow.test'), 'pending');
  // -5 when wl.test answered first (bl1.test's +2 could no longer lift it above -2), else -3.
  assert.ok(r.score === -5 || r.score === -3, String(r.score));
  // Without an allowlist threshold, everything is waited for.
  const r2 = await dnsblScore('127.0.0.12', parseSites(['wl.test*-5', 'bl1.test*2']), { ...opts, session: {} });
  assert.ok(!r2.allowlistedEarly);
  assert.equal(r2.score, -3);
});

test('lists that do not answer within the wait do not count', async (t) => {
  const { dns, opts } = await setup(t);
  dns.setBehaviour('bl2.test', 'timeout');
  const r = await dnsblScore('127.0.0.10', parseSites(['bl1.test*2', 'bl2.test*3']), { ...opts, session: {}, waitMs: 800, timeoutMs: 5000 });
  assert.equal(r.score, 2);
  assert.equal(r.answers.get('bl2.test'), 'pending');
});
