/**
 * @module logs/detect
 * `mxguard logs detect`: one streaming pass over Postfix-format logs (Postfix's and mxguard's),
 * then findings, most severe first. The detectors and their thresholds are described in
 * docs/logs-detect.md and in each module:
 *
 * - accounts.ts  `account-abuse`: a SASL account used from many networks, far above its usual
 *   rate, or by spam software (seed 002);
 * - pickup.ts    `web-script`, `pickup-flood`: mail submitted on the server itself (seed 003);
 * - auth.ts      `auth-brute-force`, `auth-network`, `auth-flood` (seed 004);
 * - rejects.ts   `repeat-rejects`: clients that keep sending after 5xx (seed 004);
 * - backscatter.ts `backscatter`, `null-sender-flood`;
 * - dnsbl.ts     `dnsbl-answers-all`, `dnsbl-stopped`.
 *
 * Memory does not grow with the log: every per-key table is capped (--max-keys, least recently
 * seen forgotten first), evidence is capped per finding, and the reader keeps one chunk.
 */
import { scanLogs, type LogInputOptions, type LogInputStats } from '../input.js';
import { sortFindings, type Finding } from './findings.js';
import type { DetectOptions } from './options.js';
import { Scanner } from './scanner.js';

export interface DetectResult {
  readonly findings: Finding[];
  readonly stats: LogInputStats;
  /** What the memory caps made the run forget, for standard error. */
  readonly notes: string[];
}

/** detect - reads the input once and returns the findings, most severe first. */
export async function detect(input: LogInputOptions, opts: DetectOptions): Promise<DetectResult> {
  const scanner = new Scanner(opts);
  const stats = await scanLogs(input, scanner.line);
  const findings = sortFindings(scanner.finish());
  return { findings, stats, notes: scanner.notes() };
}

export { detectOptions, DEFAULTS, type DetectOptions, type ThresholdFlags } from './options.js';
export type { Finding, Evidence, Severity, FindingKind } from './findings.js';
