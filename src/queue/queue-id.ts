/**
 * @module queue/queue-id
 * Queue ids in Postfix's short form: upper-case hex, the microseconds of the clock (5 digits)
 * followed by a per-process sequence mixed with the pid, e.g. `2BEFB212285`. They sort
 * roughly by time within a second and are unique per host (the spool also creates files with
 * O_EXCL, so a clash is retried, never overwritten).
 */
let seq = Math.floor(Math.random() * 0x10000);

export function newQueueId(now = process.hrtime.bigint()): string {
  const usec = Number((now / 1000n) % 1000000n);
  seq = (seq + 1) & 0xffff;
  const tail = ((process.pid & 0xff) << 16) | seq; // 24 bits: pid low byte, sequence
  return usec.toString(16).toUpperCase().padStart(5, '0') + tail.toString(16).toUpperCase().padStart(6, '0');
}

export const QUEUE_ID_RE = /^[0-9A-F]{6,16}$/;
