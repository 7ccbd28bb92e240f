/**
 * @module queue/queue-id
 * Queue ids in Postfix's short form: upper-case hex, 12 digits: the time in seconds (6 digits,
 * wrapping after 194 days), the microseconds (5 digits) and the worker process number (1 digit).
 * Within a process the (second, microsecond) pair is made strictly increasing, so an id is
 * never handed out twice while a message with it can still be queued (maximal_queue_lifetime
 * is far below 194 days); the spool therefore needs no existence check before using one.
 */
let lastUs = 0;
let worker = 0;

/** Sets the digit that keeps the ids of parallel listener processes apart (0..15). */
export function setQueueIdWorker(n: number): void { worker = n & 0xf; }

export function newQueueId(nowMs = performance.timeOrigin + performance.now()): string {
  const us = Math.max(Math.floor(nowMs * 1000), lastUs + 1);
  lastUs = us;
  const sec = Math.floor(us / 1e6) & 0xffffff;
  const usec = us % 1e6;
  return sec.toString(16).toUpperCase().padStart(6, '0') + usec.toString(16).toUpperCase().padStart(5, '0') + worker.toString(16).toUpperCase();
}

export const QUEUE_ID_RE = /^[0-9A-F]{6,16}$/;
