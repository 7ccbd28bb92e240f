/**
 * @module logs/detect/bursts
 * Server-wide bursts: "at least N events within WINDOW" over all clients together (an AUTH flood
 * from hundreds of addresses that each try once; a wave of bounces). Every moment the rate is
 * over the threshold belongs to a burst; bursts closer than WINDOW are one. All bursts of a run
 * are summed into one aggregate, which becomes one finding: a flood is a state of the server, and
 * fifty findings for fifty waves of the same flood would bury everything else.
 *
 * Memory: the last N events (time, key, evidence) and capped counters of keys.
 */
import type { InputLine } from '../input.js';
import { CappedCounter } from './bounded.js';
import { asEvidence, EvidenceList, type Evidence } from './findings.js';
import type { Rate } from './options.js';

export interface BurstWindow {
  start: number;
  end: number;
  events: number;
}

export class BurstTracker {
  private readonly times: number[] = [];
  private readonly keysRing: string[] = [];
  private readonly evRing: Array<Evidence | undefined> = [];
  private head = 0;
  private current: BurstWindow | undefined;
  /** The largest burst. */
  biggest: BurstWindow | undefined;
  bursts = 0;
  /** Events inside bursts. */
  events = 0;
  first = 0;
  last = 0;
  /** Events per key (client address, domain, …) inside bursts. */
  readonly keys: CappedCounter;
  readonly evidence: EvidenceList;

  constructor(readonly rate: Rate, evidenceCap: number, keyCap: number, private readonly minDistinct = 1) {
    this.keys = new CappedCounter(keyCap);
    this.evidence = new EvidenceList(evidenceCap);
  }

  /** push - one event; returns true when it belongs to a burst. `line` is kept only if it may be shown. */
  push(t: number, key: string, line: InputLine | Evidence): boolean {
    const n = this.rate.count;
    let slot: number;
    if (this.times.length < n) {
      slot = this.times.length;
      this.times.push(t);
      this.keysRing.push(key);
      this.evRing.push(undefined);
    } else {
      slot = this.head;
      this.times[slot] = t;
      this.keysRing[slot] = key;
      this.head = (this.head + 1) % n;
    }
    // Keep evidence for the ring while no burst is on, so a burst shows how it began; during a
    // burst the evidence list takes lines directly.
    const inBurst = this.current !== undefined && t - this.current.end <= this.rate.windowMs;
    this.evRing[slot] = inBurst ? undefined : asEvidence(line);

    const full = this.times.length === n;
    const oldest = full ? this.times[this.head]! : this.times[0]!;
    if (!full || t - oldest > this.rate.windowMs) return false;
    if (this.minDistinct > 1 && new Set(this.keysRing).size < this.minDistinct) return false;

    if (inBurst && this.current) {
      this.current.end = t;
      this.current.events++;
      this.count(t, key, line);
    } else {
      // A new burst: the N events in the ring are its beginning.
      this.bursts++;
      this.current = { start: oldest, end: t, events: 0 };
      for (let i = 0; i < n; i++) {
        const j = (this.head + i) % n;
        this.current.events++;
        this.count(this.times[j]!, this.keysRing[j]!, this.evRing[j]);
      }
    }
    if (!this.biggest || this.current.events >= this.biggest.events) this.biggest = { ...this.current };
    return true;
  }

  private count(t: number, key: string, line: InputLine | Evidence | undefined): void {
    this.events++;
    if (this.first === 0 || t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    this.keys.add(key);
    if (line) this.evidence.add(line);
  }

  /** forget - removes a key's events from the totals (a domain found out later to be ours). */
  forget(key: string): number {
    const n = this.keys.counts.get(key) ?? 0;
    if (n) {
      this.keys.counts.delete(key);
      this.events -= n;
    }
    return n;
  }
}

