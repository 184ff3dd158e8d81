/**
 * Imported first by a Node entry (node/serve.mjs run as a program, bench/lib/serve-node.mjs): if
 * nothing set the young generation's size, the process replaces itself (same pid, same stdio and
 * env) with one started with `--max-semi-space-size=8`, before anything else is loaded.
 *
 * Why: Node 24 without pointer compression lets the young generation grow to 128 MiB (64 MiB
 * semi-spaces). Under load ours allocates ~150 KiB per chat request, and what survives a scavenge
 * (undici's fetch keeps each request's AbortController and Response reachable from its
 * FinalizationRegistry, which scavenges treat as strong) is copied, so a 64 MiB semi-space makes
 * few but long pauses and a heap RSS keeps. Measured with `npm run bench:node-ab` (the same
 * bundle on both sides, 2026-12-01 20:00-20:23 UTC, load average 10-17 on 2 cores): 8 MiB took
 * RSS after the cells from 263-287 to 177-184 MiB (chat and embeddings), halved the longest
 * scavenge under that load (113-138 against 190-330 ms), for CPU per request within what the
 * same server measures against itself (0.93-1.05x at c=8, 0.87-1.13x at c=32; 4 MiB cost 8 %).
 * p99 moved with the load more than with this (chat c=8 lower in five runs, embeddings c=8 higher
 * in one). V8 reads the size only when the heap is set up, so it cannot be set from here after
 * start; hence the exec: one more Node start-up, ~30 ms of CPU (under load 13, start to first
 * chat answer went from 1022 to 1456 ms median of 7).
 *
 * An operator's own `--max-semi-space-size` (on the command line or in NODE_OPTIONS, `=0` for
 * V8's default) is left alone, as is a platform without `process.execve` (Windows).
 */
const FLAG = '--max-semi-space-size';
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
if (!given.some((arg) => arg.startsWith(FLAG)) && typeof process.execve === 'function') {
  process.execve(process.execPath, [
    process.execPath,
    `${FLAG}=8`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}
