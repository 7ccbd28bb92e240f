#!/usr/bin/env node
/**
 * @module cli/main
 * The `mxguard` command. `mxguard logs …` loads only the log readers: the gateway's modules (TLS,
 * DNS, SQLite, Redis, mail authentication) cost about 0.3 s and 60 MB to load, which a log report
 * that must beat pflogsumm and stay under 150 MB does not need.
 */
// fsyncs of concurrent sessions run in parallel in the thread pool (default 4 threads).
process.env.UV_THREADPOOL_SIZE ??= '16';

if (process.argv[2] === 'logs') await import('./logs-program.js');
else await import('./program.js');
