/**
 * @module bench/gen-maillog
 * Writes a realistic Postfix mail log of N lines (deterministic: same N and seed, same file) for the
 * `mxguard logs` benchmarks and for comparing `logs report` with pflogsumm.
 *
 *   node dist/bench/gen-maillog.js LINES [SEED] > maillog
 *
 * The mix follows a small inbound MX with a submission port: postscreen passes and rejects; smtpd
 * sessions with TLS; accepted mail delivered locally or relayed (some deferred, then sent, some
 * bounced with a non-delivery notification); NOQUEUE rejects (relay, RBL, unknown user, non-FQDN
 * HELO), greylisting by postgrey, reject_warning; SASL logins and failures; amavis content-filter
 * hops; pickup submissions by uid; warnings. Stamps are traditional syslog, one day per 300k lines
 * starting Nov 20 of the current year.
 */
const lines = Number(process.argv[2] ?? 1_000_000);
let seed = Number(process.argv[3] ?? 1) >>> 0 || 1;

/** xorshift32: a small deterministic generator. */
function rnd(): number {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 0x1_0000_0000;
}
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
let clock = new Date(new Date().getFullYear(), 10, 20, 0, 0, 0).getTime();
const step = 86_400_000 / 300_000;
function stamp(): string {
  clock += step * (0.5 + rnd());
  const d = new Date(clock);
  const day = d.getDate();
  return `${MON[d.getMonth()]} ${day < 10 ? ` ${day}` : day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} mx`;
}

let qseq = 0x1a2b3c;
const qid = (): string => (0x10000000 + ((qseq += int(1, 97)) * 2654435761 >>> 0) % 0xeffffff).toString(16).toUpperCase().padStart(10, 'A');
let pidSeq = 2000;
const pid = (): number => (pidSeq = pidSeq >= 65000 ? 2000 : pidSeq + int(1, 9));

const localDomains = ['example.org', 'example.net'];
const users = Array.from({ length: 400 }, (_, i) => `user${i}`);
const remoteDomains = Array.from({ length: 300 }, (_, i) => `d${i}.example.com`);
const spamDomains = Array.from({ length: 200 }, (_, i) => `s${i}.spam.test`);
const goodHosts = Array.from({ length: 250 }, (_, i) => ({ name: `mail${i}.d${i % 300}.example.com`, ip: `198.51.${i >> 8}.${i & 255}` }));
const badHosts = Array.from({ length: 3000 }, (_, i) => ({ name: 'unknown', ip: `203.0.${(i >> 8) & 255}.${i & 255}` }));
const saslUsers = Array.from({ length: 40 }, (_, i) => `${pick(users)}@${localDomains[i % 2]}`);

const out: string[] = [];
let written = 0;
function emit(prog: string, p: number, text: string): void {
  out.push(`${stamp()} ${prog}[${p}]: ${text}`);
  written++;
  if (out.length >= 4096) flush();
}
function flush(): void {
  process.stdout.write(`${out.join('\n')}\n`);
  out.length = 0;
}

const localRcpt = (): string => `${pick(users)}@${pick(localDomains)}`;
const remoteAddr = (): string => `${pick(users)}@${pick(remoteDomains)}`;

function delivery(id: string, rcpt: string, local: boolean): void {
  if (local) {
    emit('postfix/lmtp', pid(), `${id}: to=<${rcpt}>, relay=mx.example.org[private/dovecot-lmtp], delay=0.${int(1, 9)}, delays=0.1/0/0/0.${int(1, 9)}, dsn=2.0.0, status=sent (250 2.0.0 <${rcpt}> Saved)`);
    return;
  }
  const dom = rcpt.split('@')[1]!;
  const r = rnd();
  if (r < 0.1) {
    emit('postfix/smtp', pid(), `${id}: to=<${rcpt}>, relay=mx.${dom}[192.0.2.${int(1, 254)}]:25, delay=${int(1, 30)}, delays=0.1/0/0.5/0.4, dsn=4.7.1, status=deferred (host mx.${dom}[192.0.2.7] said: 450 4.7.1 Try again later (in reply to RCPT TO command))`);
  }
  if (r < 0.04) {
    emit('postfix/smtp', pid(), `${id}: to=<${rcpt}>, relay=none, delay=0.5, delays=0.1/0/0.4/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=${dom} type=A: Host not found)`);
    const b = qid();
    emit('postfix/bounce', pid(), `${id}: sender non-delivery notification: ${b}`);
    emit('postfix/qmgr', 900, `${b}: from=<>, size=${int(2000, 6000)}, nrcpt=1 (queue active)`);
    emit('postfix/qmgr', 900, `${b}: removed`);
    return;
  }
  emit('postfix/smtp', pid(), `${id}: to=<${rcpt}>, relay=mx.${dom}[192.0.2.${int(1, 254)}]:25, delay=${int(0, 9)}.${int(1, 9)}, delays=0.1/0/0.3/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ${qid()})`);
}

function inbound(): void {
  const h = pick(goodHosts);
  const p = pid();
  emit('postfix/postscreen', 800, `CONNECT from [${h.ip}]:${int(1024, 65000)} to [192.0.2.1]:25`);
  emit('postfix/postscreen', 800, `PASS OLD [${h.ip}]:${int(1024, 65000)}`);
  emit('postfix/smtpd', p, `connect from ${h.name}[${h.ip}]`);
  emit('postfix/smtpd', p, `Anonymous TLS connection established from ${h.name}[${h.ip}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`);
  const sender = remoteAddr();
  const rcpt = localRcpt();
  if (rnd() < 0.15) {
    emit('postgrey', 700, `action=greylist, reason=new, client_name=${h.name}, client_address=${h.ip}, sender=${sender}, recipient=${rcpt}`);
    emit('postfix/smtpd', p, `NOQUEUE: reject: RCPT from ${h.name}[${h.ip}]: 450 4.2.0 <${rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${rcpt.split('@')[1]}.html; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<${h.name}>`);
    emit('postfix/smtpd', p, `disconnect from ${h.name}[${h.ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`);
    return;
  }
  const id = qid();
  emit('postfix/smtpd', p, `${id}: client=${h.name}[${h.ip}]`);
  emit('postfix/cleanup', pid(), `${id}: message-id=<${id.toLowerCase()}.${int(1, 1e6)}@${h.name}>`);
  const size = int(1500, 90000);
  emit('postfix/qmgr', 900, `${id}: from=<${sender}>, size=${size}, nrcpt=1 (queue active)`);
  emit('postfix/smtpd', p, `disconnect from ${h.name}[${h.ip}] ehlo=1 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=6`);
  if (rnd() < 0.3) {
    // Content filter: amavis scans, then re-injects under a new id.
    const id2 = qid();
    const fp = pid();
    emit('postfix/smtpd', fp, `connect from localhost[127.0.0.1]`);
    emit('postfix/smtpd', fp, `${id2}: client=localhost[127.0.0.1]`);
    emit('postfix/smtpd', fp, `disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`);
    emit('postfix/cleanup', pid(), `${id2}: message-id=<${id.toLowerCase()}@${h.name}>`);
    emit('postfix/qmgr', 900, `${id2}: from=<${sender}>, size=${size + 800}, nrcpt=1 (queue active)`);
    emit('amavis', 600, `(0${int(1000, 9999)}-0${int(1, 9)}) Passed CLEAN {RelayedInbound}, [${h.ip}]:${int(1024, 65000)} <${sender}> -> <${rcpt}>, Queue-ID: ${id}, Message-ID: <${id.toLowerCase()}@${h.name}>, mail_id: x${int(1, 1e6)}, Hits: -0.1, size: ${size}, queued_as: ${id2}, 1200 ms`);
    emit('postfix/smtp', pid(), `${id}: to=<${rcpt}>, relay=127.0.0.1[127.0.0.1]:10024, delay=1.3, delays=0.1/0/0/1.2, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ${id2})`);
    emit('postfix/qmgr', 900, `${id}: removed`);
    delivery(id2, rcpt, true);
    emit('postfix/qmgr', 900, `${id2}: removed`);
    return;
  }
  delivery(id, rcpt, true);
  emit('postfix/qmgr', 900, `${id}: removed`);
}

function spam(): void {
  const h = pick(badHosts);
  const p = pid();
  const r = rnd();
  if (r < 0.25) {
    emit('postfix/postscreen', 800, `CONNECT from [${h.ip}]:${int(1024, 65000)} to [192.0.2.1]:25`);
    emit('postfix/postscreen', 800, `DNSBL rank 3 for [${h.ip}]:${int(1024, 65000)}`);
    emit('postfix/postscreen', 800, `NOQUEUE: reject: RCPT from [${h.ip}]:${int(1024, 65000)}: 550 5.7.1 Service unavailable; client [${h.ip}] blocked using zen.spamhaus.org; from=<x@${pick(spamDomains)}>, to=<${localRcpt()}>, proto=ESMTP, helo=<${pick(spamDomains)}>`);
    emit('postfix/postscreen', 800, `DISCONNECT [${h.ip}]:${int(1024, 65000)}`);
    return;
  }
  if (r < 0.32) {
    emit('postfix/postscreen', 800, `CONNECT from [${h.ip}]:${int(1024, 65000)} to [192.0.2.1]:25`);
    emit('postfix/postscreen', 800, `PREGREET 11 after 0.07 from [${h.ip}]:${int(1024, 65000)}: EHLO User\\r\\n`);
    emit('postfix/postscreen', 800, `DISCONNECT [${h.ip}]:${int(1024, 65000)}`);
    return;
  }
  emit('postfix/smtpd', p, `connect from unknown[${h.ip}]`);
  const sender = `${pick(users)}${int(1, 999)}@${pick(spamDomains)}`;
  if (r < 0.55) {
    const rcpt = remoteAddr();
    emit('postfix/smtpd', p, `NOQUEUE: reject: RCPT from unknown[${h.ip}]: 554 5.7.1 <${rcpt}>: Relay access denied; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<${pick(spamDomains)}>`);
  } else if (r < 0.7) {
    const rcpt = `nobody${int(1, 99)}@${pick(localDomains)}`;
    emit('postfix/smtpd', p, `NOQUEUE: reject: RCPT from unknown[${h.ip}]: 550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<${pick(spamDomains)}>`);
  } else if (r < 0.8) {
    const rcpt = localRcpt();
    emit('postfix/smtpd', p, `NOQUEUE: reject: RCPT from unknown[${h.ip}]: 504 5.5.2 <WIN-${int(100, 999)}>: Helo command rejected: need fully-qualified hostname; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<WIN-${int(100, 999)}>`);
  } else if (r < 0.85) {
    const rcpt = localRcpt();
    emit('postfix/smtpd', p, `NOQUEUE: reject_warning: RCPT from unknown[${h.ip}]: 450 4.7.1 Client host rejected: cannot find your hostname, [${h.ip}]; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<${pick(spamDomains)}>`);
    const id = qid();
    emit('postfix/smtpd', p, `${id}: client=unknown[${h.ip}]`);
    emit('postfix/cleanup', pid(), `${id}: message-id=<${int(1, 1e9)}@${pick(spamDomains)}>`);
    emit('postfix/qmgr', 900, `${id}: from=<${sender}>, size=${int(800, 9000)}, nrcpt=1 (queue active)`);
    delivery(id, rcpt, true);
    emit('postfix/qmgr', 900, `${id}: removed`);
  } else {
    emit('postfix/smtpd', p, `warning: unknown[${h.ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`);
    emit('postfix/smtpd', p, `lost connection after AUTH from unknown[${h.ip}]`);
    emit('postfix/smtpd', p, `disconnect from unknown[${h.ip}] ehlo=1 auth=0/1 commands=1/2`);
    return;
  }
  emit('postfix/smtpd', p, `disconnect from unknown[${h.ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`);
}

function submission(): void {
  const user = pick(saslUsers);
  const ip = `10.${int(0, 3)}.${int(0, 255)}.${int(1, 254)}`;
  const p = pid();
  emit('postfix/submission/smtpd', p, `connect from client.example.org[${ip}]`);
  emit('postfix/submission/smtpd', p, `Anonymous TLS connection established from client.example.org[${ip}]: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)`);
  const id = qid();
  emit('postfix/submission/smtpd', p, `${id}: client=client.example.org[${ip}], sasl_method=PLAIN, sasl_username=${user}`);
  emit('postfix/cleanup', pid(), `${id}: message-id=<${id.toLowerCase()}@example.org>`);
  const n = int(1, 3);
  emit('postfix/qmgr', 900, `${id}: from=<${user}>, size=${int(1000, 200000)}, nrcpt=${n} (queue active)`);
  emit('postfix/submission/smtpd', p, `disconnect from client.example.org[${ip}] ehlo=2 starttls=1 auth=1 mail=1 rcpt=${n} data=1 quit=1 commands=${7 + n}`);
  for (let i = 0; i < n; i++) delivery(id, remoteAddr(), false);
  emit('postfix/qmgr', 900, `${id}: removed`);
}

function local(): void {
  const id = qid();
  emit('postfix/pickup', pid(), `${id}: uid=${pick([0, 33, 1000])} from=<${pick(['root', 'www-data', 'user1'])}>`);
  emit('postfix/cleanup', pid(), `${id}: message-id=<${id.toLowerCase()}@mx.example.org>`);
  emit('postfix/qmgr', 900, `${id}: from=<root@mx.example.org>, size=${int(500, 3000)}, nrcpt=1 (queue active)`);
  delivery(id, `root@${localDomains[0]}`, true);
  emit('postfix/qmgr', 900, `${id}: removed`);
}

function noise(): void {
  const r = rnd();
  if (r < 0.5) emit('postfix/smtpd', pid(), `warning: hostname ${pick(spamDomains)} does not resolve to address ${pick(badHosts).ip}: Name or service not known`);
  else if (r < 0.8) emit('postfix/anvil', 901, `statistics: max connection rate 4/60s for (smtp:${pick(badHosts).ip}) at ${stamp().slice(0, 15)}`);
  else emit('postfix/smtpd', pid(), `warning: non-SMTP command from unknown[${pick(badHosts).ip}]: GET / HTTP/1.1`);
}

while (written < lines) {
  const r = rnd();
  if (r < 0.35) inbound();
  else if (r < 0.75) spam();
  else if (r < 0.9) submission();
  else if (r < 0.95) local();
  else noise();
}
flush();
