/**
 * The first import of a Node entry (node/serve.mjs, bench/lib/serve-node.mjs), so it evaluates
 * before anything else of the entry's: if nothing set the young generation's size, the process
 * replaces itself (same pid, same stdio and env) with one started with `--max-semi-space-size=8`.
 * node/serve.mjs imported as a library (the tests, the bench runner) execs nothing: only a process
 * whose main module is node/serve.mjs does, or one that calls execWithYoungGeneration() itself.
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
 * chat answer went from 1022 to 1456 ms median of 7). Re-measured in session 7 (bench/README.md,
 * "Ours on Node, session 7", load 8-15): 16 MiB and V8's default were no cheaper in CPU beyond
 * the machine's ±10-20 % (the same bundle both sides, chat and embeddings, c=1/8/32, before and
 * after node/fetch.mjs), and RSS after the cells was higher every time (16 MiB 173-201, default
 * 181-280, 8 MiB 133-189 MiB), so 8 stays.
 *
 * Left alone:
 * - an operator's own size, on the command line or in NODE_OPTIONS, spelt `--max-semi-space-size`
 *   or V8's `--max_semi_space_size` (`=0` for V8's default);
 * - a process with an IPC channel: one started by child_process.fork (PM2's fork mode, any
 *   supervisor that talks over process.send) or a cluster worker (always forked so). Node removes
 *   NODE_CHANNEL_FD from the env at start, so after an exec process.send would be gone. Such a
 *   setup passes `--max-semi-space-size=8` itself (PM2: `node_args`, cluster: `execArgv`);
 * - a worker thread (no exec there), and a platform without `process.execve` (Windows).
 */
import { realpathSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const SIZE = '--max-semi-space-size';

/** Whether the young generation's size was set, in either of V8's spellings. */
function sizeGiven(args) {
  return args.some((arg) => arg.replaceAll('_', '-').startsWith(SIZE));
}

/** Execs this process again with an 8 MiB semi-space, unless it must not (above). */
export function execWithYoungGeneration() {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (sizeGiven(given) || process.channel || !isMainThread || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [
    process.execPath,
    `${SIZE}=8`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}

/** node/serve.mjs run as a program (Node resolves the main module through symlinks, as here). */
function serveIsMain() {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(new URL('./serve.mjs', import.meta.url));
  } catch {
    return false;
  }
}

if (serveIsMain()) execWithYoungGeneration();
