/**
 * @module log/session-pid
 * The number in `smtpd[N]` for one SMTP session. Postfix runs one smtpd process per session at a
 * time, so the pid in its log lines groups a session's lines; administrators grep by it, and log
 * tools (pflogsumm --smtpd-stats, fail2ban's multi-line filters, `mxguard logs`) follow sessions by
 * it. mxguard serves every session of a process in that one process: with the process id alone,
 * the lines of concurrent sessions would share one number.
 *
 * So each session gets its own number while it lasts: the process id times 1000 plus the lowest
 * slot free in this process (0 for the first session open at a time, 1 for a second concurrent
 * one, …), reused after the session ends, as Postfix reuses an smtpd process. The numbers of two
 * processes (mxguard_workers) never meet, and none can be a real process id (Linux's largest is
 * 4,194,304), so a Postfix sharing the log file never shares one either. Past 1000 concurrent
 * sessions in one process, slots repeat (modulo 1000).
 */

const SLOTS_PER_PROCESS = 1000;

/** Slots in use; the lowest free one is taken. */
const used: boolean[] = [];

/** takeSessionPid - a number for a session starting now; give it back with releaseSessionPid. */
export function takeSessionPid(): number {
  let slot = used.indexOf(false);
  if (slot < 0) slot = used.length;
  used[slot] = true;
  return process.pid * SLOTS_PER_PROCESS + (slot % SLOTS_PER_PROCESS);
}

/** releaseSessionPid - the session of `pid` has ended (its last line is logged). */
export function releaseSessionPid(pid: number): void {
  const slot = pid - process.pid * SLOTS_PER_PROCESS;
  // Slots past SLOTS_PER_PROCESS share a number; free the lowest slot in use with it.
  for (let s = slot; s < used.length; s += SLOTS_PER_PROCESS) {
    if (used[s]) {
      used[s] = false;
      break;
    }
  }
  while (used.length > 0 && used[used.length - 1] === false) used.pop();
}
