/**
 * @module queue/group-flush
 * Group commit of one flush operation (an fsync of a directory, an fdatasync of segment files).
 * A caller that arrives while a flush is in flight waits for the next one, since the one in
 * flight may have started before its write; every caller that arrives meanwhile shares that
 * next flush. A failed flush fails only its own callers: the next one runs regardless.
 */
export class GroupFlush {
  /** Flushes made so far; fewer than callers when they share them. */
  count = 0;
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that started after this call has completed. */
  sync(): Promise<void> {
    if (!this.inFlight) return this.start();
    this.next ??= this.inFlight.then(() => this.start(), () => this.start());
    return this.next;
  }

  private start(): Promise<void> {
    this.next = undefined;
    this.count++;
    const p: Promise<void> = this.flush().finally(() => { if (this.inFlight === p) this.inFlight = undefined; });
    this.inFlight = p;
    return p;
  }
}
