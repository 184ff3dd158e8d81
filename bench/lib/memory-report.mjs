// What a Node server's memory is after the bench's cells: with BENCH_MEMORY_DIR set, SIGUSR2
// makes the process write $BENCH_MEMORY_DIR/memory-<pid>.json: process.memoryUsage() as it was
// (what RSS holds: the heap with its garbage, external and ArrayBuffer memory), then again after
// two full GCs (what is live), the V8 heap spaces after, and the active handles by kind. Imported by bench/lib/serve-node.mjs
// and bench/lib/serve.ts (ours), bench/lib/peer-process.ts (the Node floor) and preloaded with
// --import into Portkey, so all of them are read the same way (bench/lib/memory.ts).
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const MiB = (n) => Math.round((n / 1048576) * 10) / 10;
const usage = () => Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, MiB(v)]));

export function onMemoryReport() {
  const dir = process.env.BENCH_MEMORY_DIR;
  if (!dir || process.listenerCount('SIGUSR2') > 0) return;
  process.on('SIGUSR2', () => {
    const before = usage();
    // What is still scheduled or open once the load has stopped (Timeout, TCPSocketWrap...): a
    // per-request timer that outlived its request would show here as Timeouts by the thousand.
    const active = {};
    for (const kind of process.getActiveResourcesInfo()) active[kind] = (active[kind] ?? 0) + 1;
    // No --expose-gc at start (it would change how the process runs): the flag is set only now.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    gc();
    gc();
    const after = usage();
    const heap = v8.getHeapStatistics();
    const spaces = v8
      .getHeapSpaceStatistics()
      .map((s) => ({ space: s.space_name, usedMiB: MiB(s.space_used_size), sizeMiB: MiB(s.space_size) }));
    writeFileSync(
      `${dir}/memory-${process.pid}.json`,
      JSON.stringify({
        pid: process.pid,
        before,
        after,
        mallocedMiB: MiB(heap.malloced_memory),
        peakMallocedMiB: MiB(heap.peak_malloced_memory),
        spaces,
        active,
      }),
    );
  });
}

onMemoryReport();
