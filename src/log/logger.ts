/**
 * @module log/logger
 * Postfix-format log lines (`Nov 27 16:17:14 host postfix/smtpd[1234]: text`), so pflogsumm,
 * fail2ban's postfix filters and existing dashboards read mxguard's log unchanged.
 * Destination: $maillog_file, or standard output when it is empty.
 */
import { openSync, writeSync, closeSync, mkdirSync, write } from 'node:fs';
import { dirname } from 'node:path';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3164 timestamp, as syslog and Postfix's maillog_file write it. */
export function syslogStamp(d = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

export interface Logger {
  /**
   * One line from `program` (e.g. 'smtpd', 'qmgr'); `syslogName` overrides the default prefix, `pid`
   * the process id in brackets (an SMTP session's own number: log/session-pid).
   */
  line(program: string, text: string, syslogName?: string, pid?: number): void;
  /** Reopens $maillog_file (after logrotate moved it away; done on SIGHUP). */
  reopen(): void;
  close(): void;
}

export interface LoggerOptions {
  readonly file: string;          // '' = stdout
  readonly host: string;          // short host name written after the stamp
  readonly syslogName: string;    // 'postfix'
}

export function createLogger(opts: LoggerOptions): Logger {
  let fd: number;
  let own = false;
  if (opts.file === '' || opts.file === '/dev/stdout') fd = 1;
  else if (opts.file === '/dev/stderr') fd = 2;
  else {
    mkdirSync(dirname(opts.file), { recursive: true });
    fd = openSync(opts.file, 'a');
    own = true;
  }
  const host = opts.host.split('.')[0] || opts.host;
  // Lines of one event-loop turn are written together in one write(2) (O_APPEND keeps the
  // lines of several processes whole); a busy server makes far fewer system calls this way.
  let pending = '';
  let scheduled = false;
  let writing = false;
  let stamp = '';
  let stampSecond = -1;
  /** Synchronous: at exit and on close, nothing may stay behind. */
  const flush = () => {
    scheduled = false;
    if (!pending || writing) return;
    const s = pending;
    pending = '';
    try { writeSync(fd, s); } catch { /* a full disk or closed stdout must not stop mail */ }
  };
  /** During operation: one write at a time in the thread pool, in order. */
  const flushAsync = () => {
    scheduled = false;
    if (!pending || writing) return;
    const buf = Buffer.from(pending);
    pending = '';
    writing = true;
    write(fd, buf, 0, buf.length, null, () => {
      writing = false; // errors (full disk, closed stdout) must not stop mail
      if (pending && !scheduled) { scheduled = true; setImmediate(flushAsync); }
    });
  };
  process.once('exit', () => { writing = false; flush(); });
  return {
    line(program, text, syslogName, pid) {
      const now = Date.now();
      const sec = Math.floor(now / 1000);
      if (sec !== stampSecond) { stamp = syslogStamp(new Date(now)); stampSecond = sec; }
      pending += `${stamp} ${host} ${syslogName ?? opts.syslogName}/${program}[${pid ?? process.pid}]: ${text}\n`;
      // A regular file takes the batch in one quick write(2); a pipe (standard output) may block,
      // so it is written from the thread pool.
      if (!scheduled) { scheduled = true; setImmediate(own ? flush : flushAsync); }
    },
    reopen() {
      if (!own) return;
      writing = false;
      flush();
      const old = fd;
      try { fd = openSync(opts.file, 'a'); } catch { return; /* keep writing where we were */ }
      try { closeSync(old); } catch { /* already closed */ }
    },
    close() { writing = false; flush(); if (own) closeSync(fd); },
  };
}

/**
 * sessionLogger - `logger` for one SMTP session: its smtpd lines carry the session's number `pid`
 * (log/session-pid); lines of other programs (cleanup) keep the process id.
 */
export function sessionLogger(logger: Logger, pid: number): Logger {
  return {
    line: (program, text, syslogName, p) => logger.line(program, text, syslogName, program === 'smtpd' ? pid : p),
    reopen: () => logger.reopen(),
    // The log belongs to the process, not to the session.
    close: () => { /* nothing */ },
  };
}

/** `name[addr]` or `name[addr]:port` (postconf(5) smtpd_client_port_logging). */
export function namaddr(name: string, addr: string, port?: number): string {
  return `${name}[${addr}]${port !== undefined ? `:${port}` : ''}`;
}
