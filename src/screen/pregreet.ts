/**
 * @module screen/pregreet
 * postscreen(8)'s pregreet test (psc_early.c): the pause of $postscreen_greet_wait before the
 * greeting, during which a well-behaved client says nothing. Input that arrives early is looked
 * at, not consumed (postscreen peeks with MSG_PEEK): it is put back into the socket's buffer so
 * that whoever talks to the client next (the session, or the stand-in engine) reads it.
 *
 * Blind spot: a client that waits out the teaser's first line but not the pause is caught only
 * if the teaser ($postscreen_greet_banner) is sent; without it the test is only "did the client
 * speak within the wait".
 */
import type { Socket } from 'node:net';

export type WaitResult =
  /** The pause ended; `early` is the input that came during it, if any (already put back). */
  | { kind: 'done'; early?: Buffer; afterMs?: number }
  /** The client hung up during the pause. */
  | { kind: 'hangup'; afterMs: number };

/**
 * greetWait - pauses `ms`, watching the socket. `onEarly` is called once, with the first input
 * and the time it came; when it answers true the pause ends at once (drop). Every exit removes
 * its listeners and leaves the socket neither flowing nor paused for the next reader.
 */
export function greetWait(socket: Socket, ms: number, onEarly: (data: Buffer, afterMs: number) => boolean): Promise<WaitResult> {
  const start = Date.now();
  return new Promise<WaitResult>((resolve) => {
    let early: Buffer | undefined;
    let afterMs: number | undefined;
    const finish = (r: WaitResult) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (early && !socket.destroyed) socket.unshift(early);
      resolve(r);
    };
    const onReadable = () => {
      if (early) return;
      const d = socket.read() as Buffer | null;
      if (d === null) return;
      early = d;
      afterMs = Date.now() - start;
      // Stop watching: the input stays buffered for the next reader.
      socket.off('readable', onReadable);
      if (onEarly(d, afterMs)) finish({ kind: 'done', early: d, afterMs });
    };
    const onEnd = () => finish({ kind: 'hangup', afterMs: Date.now() - start });
    const timer = setTimeout(() => finish(early ? { kind: 'done', early, afterMs: afterMs! } : { kind: 'done' }), ms);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** Seconds as postscreen prints them: at most two decimals, no trailing zeros (0, 0.02, 0.7, 2.01). */
export function seconds(ms: number): string {
  return String(Math.round(ms / 10) / 100);
}

/** Client text as postscreen logs it: at most 100 bytes, CR/LF/TAB/backslash escaped, other controls in octal. */
export function printable(data: Buffer, max = 100): string {
  let out = '';
  for (const b of data.subarray(0, max)) {
    if (b === 13) out += '\\r';
    else if (b === 10) out += '\\n';
    else if (b === 9) out += '\\t';
    else if (b === 92) out += '\\\\';
    else if (b < 32 || b >= 127) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}
