/**
 * @module config/params/state
 * Parameters of the shared state store (src/state/) and of the features that keep state in it.
 */
import { p, type ParamDef } from '../types.js';

export const stateParams: ParamDef[] = [
  p.string('mxguard_state_store', 'sqlite:${mxguard_state_directory}/state.sqlite', 'Where greylisting, rate limits, bans and the pre-greet screen keep their state: "sqlite:/path/file" (embedded, this host only), "redis://host:port/db" (shared by every mxguard host pointed at the same Redis; "redis://:password@host:port/db" with AUTH, "rediss://" with TLS) or "memory:" (this process only, lost at restart). See docs/state.md.'),
  p.time('mxguard_state_store_timeout', '0.5s', 'Time limit of one state store call (default 500 ms); a call that takes longer, or any call while Redis is unreachable, fails at once and $mxguard_state_store_failure decides. With SQLite, how long a call waits for another process\'s write lock.', { min: 0.001, max: 30 }),
  p.choice('mxguard_state_store_failure', 'open', ['open', 'tempfail'], 'What a feature does when the state store fails: "open" behaves as if the store said nothing (no greylisting, no limit, no ban; mail flows), "tempfail" answers 451 4.3.0 so that clients retry later. Either way the failure is counted and logged (at most once a minute).'),
];
