/**
 * @module logs/report/limit
 * The JSON output with pflogsumm's row limits applied (`-h` host/domain lists, `-u` address
 * lists, `--detail` and the per-section detail counts the reasons and keys of detail tables).
 * Without limits the data is returned as collected: every list whole (within the collector's caps).
 */
import type { DetailGroup, ReportData, ReportOptions } from './model.js';

const lim = (v: number | undefined, d: number | undefined): number | undefined => {
  const n = v ?? d;
  return n === undefined || n < 0 ? undefined : n;
};
const cut = <T>(rows: readonly T[], n: number | undefined): readonly T[] => (n === undefined ? rows : rows.slice(0, n));

/** cutDetail - at most `n` reasons of two-level groups, `n` keys of each reason of three-level ones. */
function cutDetail(groups: readonly DetailGroup[], n: number | undefined): readonly DetailGroup[] {
  if (n === undefined) return groups;
  if (n === 0) return [];
  return groups.map((g) => ({
    ...g,
    reasons: g.reasons.every((r) => r.keys.length === 0) ? g.reasons.slice(0, n) : g.reasons.map((r) => ({ ...r, keys: r.keys.slice(0, n) })),
  }));
}

/** limitData - `data` with the options' row limits applied. */
export function limitData(data: ReportData, o: ReportOptions): ReportData {
  const hosts = lim(o.topHosts, o.detail);
  const users = lim(o.topUsers, o.detail);
  const detail = lim(undefined, o.detail);
  if (hosts === undefined && users === undefined && detail === undefined && [o.bounceDetail, o.deferralDetail, o.rejectDetail, o.smtpDetail, o.smtpdWarningDetail].every((v) => v === undefined)) {
    return data;
  }
  const reject = lim(o.rejectDetail, o.detail);
  return {
    ...data,
    deliveryDomains: cut(data.deliveryDomains, hosts),
    receivedDomains: cut(data.receivedDomains, hosts),
    sendersByCount: cut(data.sendersByCount, users),
    recipientsByCount: cut(data.recipientsByCount, users),
    sendersBySize: cut(data.sendersBySize, users),
    recipientsBySize: cut(data.recipientsBySize, users),
    smtpd: { ...data.smtpd, byHost: cut(data.smtpd.byHost, hosts) },
    deferrals: cutDetail(data.deferrals, lim(o.deferralDetail, o.detail)),
    bounces: cutDetail(data.bounces, lim(o.bounceDetail, o.detail)),
    rejects: cutDetail(data.rejects, reject),
    rejectWarnings: cutDetail(data.rejectWarnings, reject),
    holds: cutDetail(data.holds, reject),
    discards: cutDetail(data.discards, reject),
    smtpFailures: cutDetail(data.smtpFailures, lim(o.smtpDetail, o.detail)),
    warnings: cutDetail(data.warnings, lim(o.smtpdWarningDetail, o.detail)),
    greylist: { ...data.greylist, byReason: cut(data.greylist.byReason, detail), topClients: cut(data.greylist.topClients, hosts) },
    sasl: {
      ...data.sasl,
      byUser: cut(data.sasl.byUser, users),
      failuresByClient: cut(data.sasl.failuresByClient, hosts),
      failuresByMethod: cut(data.sasl.failuresByMethod, detail),
    },
    postscreen: { ...data.postscreen, topClients: cut(data.postscreen.topClients, hosts), dnsblSites: cut(data.postscreen.dnsblSites, detail) },
    rejectsByReason: cut(data.rejectsByReason, detail),
    topClients: cut(data.topClients, hosts),
  };
}
