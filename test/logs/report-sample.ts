/**
 * @module test/logs/report-sample
 * Hand-built `ReportData` for the report renderers' tests: two days of a small gateway's logs, every
 * section filled with a few believable rows (and the sums agree where a reader would check them:
 * per-day rows add up to the grand totals). `emptyReport()` is what the collector gives for no input.
 */
import type { DetailGroup, ReportData, TrafficRow } from '../../src/logs/report/model.js';

/** Messages received per hour on a working day; the other series follow from it. */
const RECEIVED_BY_HOUR = [3, 2, 1, 1, 0, 2, 5, 14, 31, 40, 38, 35, 22, 30, 37, 33, 29, 20, 12, 9, 6, 5, 4, 3];

function hourRows(): TrafficRow[] {
  return RECEIVED_BY_HOUR.map((received, h) => ({
    period: String(h).padStart(2, '0'),
    received,
    delivered: Math.max(0, received - (h % 5 === 0 ? 1 : 0)),
    deferred: h % 6 === 2 ? 2 : 0,
    bounced: h === 9 ? 1 : 0,
    rejected: Math.round(received * 0.6) + (h < 6 ? 4 : 0),
  }));
}

function sumHours(rows: readonly TrafficRow[], key: 'received' | 'delivered' | 'deferred' | 'bounced' | 'rejected'): number {
  return rows.reduce((n, r) => n + r[key], 0);
}

const deferrals: DetailGroup[] = [
  { group: 'smtp', count: 8, reasons: [
    { reason: 'connect to mx.slow.example[198.51.100.20]:25: Connection timed out', count: 6,
      keys: [{ key: 'sales@slow.example', count: 4 }, { key: 'info@slow.example', count: 2 }] },
    { reason: '452 4.2.2 Mailbox full', count: 2, keys: [{ key: 'bob@full.example', count: 2 }] },
  ] },
];

const bounces: DetailGroup[] = [
  { group: 'smtp', count: 2, reasons: [
    { reason: '550 5.1.1 User unknown', count: 2, keys: [{ key: 'nobody@partner.example', count: 2 }] },
  ] },
];

const rejects: DetailGroup[] = [
  { group: 'RCPT', count: 291, reasons: [
    { reason: 'blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7', count: 180,
      keys: [{ key: '203.0.113.7', count: 120 }, { key: '203.0.113.8', count: 60 }] },
    { reason: 'Relay access denied', count: 64, keys: [{ key: 'unknown[192.0.2.55]', count: 64 }] },
    { reason: 'Recipient address rejected: User unknown in local recipient table', count: 47,
      keys: [{ key: 'admin@example.net', count: 30 }, { key: 'test@example.net', count: 17 }] },
  ] },
  { group: 'HELO', count: 12, reasons: [
    { reason: 'Helo command rejected: need fully-qualified hostname', count: 12, keys: [{ key: 'localhost', count: 12 }] },
  ] },
];

const rejectWarnings: DetailGroup[] = [
  { group: 'RCPT', count: 3, reasons: [
    { reason: 'Client host rejected: cannot find your hostname', count: 3, keys: [{ key: 'unknown[198.51.100.77]', count: 3 }] },
  ] },
];

const warnings: DetailGroup[] = [
  { group: 'smtpd', count: 5, reasons: [
    { reason: 'hostname does not resolve to address', count: 4, keys: [{ key: '203.0.113.9', count: 4 }] },
    { reason: 'non-SMTP command from unknown[192.0.2.66]: GET / HTTP/1.1', count: 1, keys: [{ key: 'unknown[192.0.2.66]', count: 1 }] },
  ] },
];

/** sampleReport - a complete, small report over two days (2026-07-18 and -19) of mx1.example.net. */
export function sampleReport(): ReportData {
  const perHour = hourRows();
  const day = (period: string, share: number): TrafficRow => ({
    period,
    received: Math.round(sumHours(perHour, 'received') * share),
    delivered: Math.round(sumHours(perHour, 'delivered') * share),
    deferred: Math.round(sumHours(perHour, 'deferred') * share),
    bounced: Math.round(sumHours(perHour, 'bounced') * share),
    rejected: Math.round(sumHours(perHour, 'rejected') * share),
  });
  const perDay = [day('2026-07-18', 0.8), day('2026-07-19', 1.2)];
  const total = (key: 'received' | 'delivered' | 'deferred' | 'bounced' | 'rejected'): number => perDay.reduce((n, r) => n + r[key], 0);
  const delivered = total('delivered'), rejected = total('rejected');
  return {
    generated: '2026-07-20T06:00:03.120Z',
    hosts: ['mx1.example.net'],
    input: {
      files: ['/var/log/maillog', '/var/log/maillog.1.gz'],
      lines: 48_213, parsed: 48_190, unparsed: 23, outside: 0,
      first: '2026-07-18T00:00:04.000Z', last: '2026-07-19T23:59:41.000Z',
    },
    totals: {
      received: total('received'), delivered, forwarded: 3, deferred: 6, deferrals: total('deferred'), bounced: total('bounced'),
      rejected, rejectedPercent: Math.floor((rejected / (delivered + rejected + 1)) * 100), rejectWarnings: 3, held: 0, discarded: 1,
      discardedPercent: 0, bytesReceived: 48_734_113, bytesDelivered: 51_002_877,
      senders: 212, sendingDomains: 97, recipients: 61, recipientDomains: 14,
    },
    perDay,
    perHour,
    perHourIsAverage: true,
    deliveryDomains: [
      { domain: 'example.net', sent: 690, bytes: 40_100_220, defers: 0, avgDelay: 0.4, maxDelay: 12 },
      { domain: 'partner.example', sent: 88, bytes: 7_302_110, defers: 2, avgDelay: 2.1, maxDelay: 95 },
      { domain: 'slow.example', sent: 4, bytes: 120_400, defers: 6, avgDelay: 4_210, maxDelay: 14_400 },
    ],
    receivedDomains: [
      { key: 'partner.example', count: 301, bytes: 20_455_010 },
      { key: 'newsletter.example', count: 120, bytes: 9_870_112 },
      { key: 'example.net', count: 77, bytes: 4_001_322 },
    ],
    sendersByCount: [{ key: 'news@newsletter.example', count: 120 }, { key: 'alice@partner.example', count: 41 }, { key: 'carol@example.net', count: 12 }],
    recipientsByCount: [{ key: 'sales@example.net', count: 310 }, { key: 'support@example.net', count: 202 }, { key: 'dave@example.net', count: 18 }],
    sendersBySize: [{ key: 'alice@partner.example', count: 41, bytes: 12_004_111 }, { key: 'news@newsletter.example', count: 120, bytes: 9_870_112 }],
    recipientsBySize: [{ key: 'sales@example.net', count: 310, bytes: 22_310_004 }, { key: 'dave@example.net', count: 18, bytes: 6_002_999 }],
    noSizeData: ['4Vx2Lk0mZ1z8PqR'],
    smtpd: {
      connections: 1_390, hosts: 402, totalConnectTime: 5_512, avgConnectTime: 3.97,
      perDay: [{ period: '2026-07-18', connections: 556, seconds: 2_204 }, { period: '2026-07-19', connections: 834, seconds: 3_308 }],
      perHour: perHour.map((r) => ({ period: r.period, connections: r.received + r.rejected, seconds: (r.received + r.rejected) * 4 })),
      byHost: [
        { key: 'mail.partner.example', connections: 301, seconds: 903, maxSeconds: 31 },
        { key: '203.0.113.7', connections: 120, seconds: 240, maxSeconds: 5 },
      ],
    },
    deferrals,
    bounces,
    rejects,
    rejectWarnings,
    holds: [],
    discards: [{ group: 'cleanup', count: 1, reasons: [{ reason: 'header Subject: win big', count: 1, keys: [{ key: 'promo@spam.example', count: 1 }] }] }],
    smtpFailures: [],
    warnings,
    fatals: [],
    panics: [],
    masterMessages: [{ key: 'daemon started -- version 3.8.6, configuration /etc/postfix', count: 1 }],
    greylist: {
      greylisted: 140, passedAfterDelay: 52, whitelisted: 310, neverRetried: 81,
      byReason: [{ key: 'new', count: 131 }, { key: 'early-retry', count: 9 }],
      topClients: [{ key: '203.0.113.50', count: 22 }, { key: 'unknown[198.51.100.9]', count: 14 }],
      medianDelay: 612,
    },
    policy: {
      byService: [
        { service: 'postgrey', actions: [{ key: 'greylist', count: 140 }, { key: 'pass', count: 362 }] },
        { service: 'policyd-spf', actions: [{ key: 'prepend', count: 401 }, { key: 'reject', count: 7 }] },
      ],
      spf: [{ key: 'Pass', count: 280 }, { key: 'None', count: 90 }, { key: 'Softfail', count: 24 }, { key: 'Fail', count: 7 }],
    },
    sasl: {
      logins: 58, failures: 1_204,
      byUser: [{ user: 'carol', messages: 12, clients: 2, methods: ['PLAIN', 'LOGIN'] }, { user: 'dave@example.net', messages: 3, clients: 1, methods: ['PLAIN'] }],
      failuresByClient: [{ key: 'unknown[45.0.2.10]', count: 900 }, { key: 'unknown[45.0.2.11]', count: 304 }],
      failuresByMethod: [{ key: 'LOGIN', count: 1_100 }, { key: 'PLAIN', count: 104 }],
    },
    tls: {
      inbound: 610, outbound: 512, inboundConnections: 1_390,
      byLevel: [{ key: 'Anonymous', count: 600 }, { key: 'Trusted', count: 500 }, { key: 'Verified', count: 22 }],
      byProtocol: [{ key: 'TLSv1.3', count: 1_050 }, { key: 'TLSv1.2', count: 72 }],
      byCipher: [{ key: 'TLS_AES_256_GCM_SHA384 (256/256 bits)', count: 1_050 }, { key: 'ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)', count: 72 }],
    },
    postscreen: {
      connects: 1_900, passNew: 210, passOld: 1_120, rejected: 420,
      byEvent: [{ key: 'DNSBL', count: 300 }, { key: 'PREGREET', count: 90 }, { key: 'HANGUP', count: 30 }],
      dnsblSites: [{ key: 'zen.spamhaus.org', count: 290 }, { key: 'bl.spamcop.net', count: 40 }],
      topClients: [{ key: '203.0.113.7', count: 120 }, { key: '192.0.2.55', count: 64 }],
    },
    rejectsByReason: [
      { key: 'blocked using zen.spamhaus.org', count: 180 },
      { key: 'Relay access denied', count: 64 },
      { key: 'User unknown in local recipient table', count: 47 },
      { key: 'need fully-qualified hostname', count: 12 },
      { key: 'Sender address rejected: Domain not found', count: 5 },
    ],
    topClients: [
      { key: 'mail.partner.example[198.51.100.2]', connections: 301, messages: 301, rejects: 0 },
      { key: 'unknown[203.0.113.7]', connections: 120, messages: 0, rejects: 120 },
      { key: 'unknown[192.0.2.55]', connections: 64, messages: 0, rejects: 64 },
      { key: 'localhost[203.0.113.90]', connections: 12, messages: 0, rejects: 12 },
    ],
  };
}

/** emptyReport - what the collector gives when it read no lines at all. */
export function emptyReport(): ReportData {
  const zeroHour = (h: number): TrafficRow => ({ period: String(h).padStart(2, '0'), received: 0, delivered: 0, deferred: 0, bounced: 0, rejected: 0 });
  return {
    generated: '2026-07-20T06:00:00.000Z',
    hosts: [],
    input: { files: ['-'], lines: 0, parsed: 0, unparsed: 0, outside: 0 },
    totals: {
      received: 0, delivered: 0, forwarded: 0, deferred: 0, deferrals: 0, bounced: 0, rejected: 0, rejectedPercent: 0,
      rejectWarnings: 0, held: 0, discarded: 0, discardedPercent: 0, bytesReceived: 0, bytesDelivered: 0,
      senders: 0, sendingDomains: 0, recipients: 0, recipientDomains: 0,
    },
    perDay: [],
    perHour: Array.from({ length: 24 }, (_, h) => zeroHour(h)),
    perHourIsAverage: false,
    deliveryDomains: [], receivedDomains: [], sendersByCount: [], recipientsByCount: [], sendersBySize: [], recipientsBySize: [],
    noSizeData: [],
    smtpd: { connections: 0, hosts: 0, totalConnectTime: 0, avgConnectTime: 0, perDay: [], perHour: [], byHost: [] },
    deferrals: [], bounces: [], rejects: [], rejectWarnings: [], holds: [], discards: [], smtpFailures: [], warnings: [], fatals: [], panics: [],
    masterMessages: [],
    greylist: { greylisted: 0, passedAfterDelay: 0, whitelisted: 0, neverRetried: 0, byReason: [], topClients: [] },
    policy: { byService: [], spf: [] },
    sasl: { logins: 0, failures: 0, byUser: [], failuresByClient: [], failuresByMethod: [] },
    tls: { inbound: 0, outbound: 0, byLevel: [], byProtocol: [], byCipher: [], inboundConnections: 0 },
    postscreen: { connects: 0, passNew: 0, passOld: 0, rejected: 0, byEvent: [], dnsblSites: [], topClients: [] },
    rejectsByReason: [],
    topClients: [],
  };
}
