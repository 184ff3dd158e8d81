// What a Node server's memory is after the bench's cells: with BENCH_MEMORY_DIR set, SIGUSR2
// makes the process write $BENCH_MEMORY_DIR/memory-<pid>.json: process.memoryUsage() as it was
// (what RSS holds: the heap with its garbage, external and ArrayBuffer memory), then again after
// two full GCs (what is live), the V8 heap spaces after, and the active handles by kind. Imported
// by bench/lib/serve-node.mjs and bench/lib/serve.ts (ours), bench/lib/peer-process.ts (the Node
// floor) and preloaded with --import into Portkey, so all of them are read the same way
// (bench/lib/memory.ts). With BENCH_PROBE_DIR, also load windows seen from inside (below).
import { renameSync, writeFileSync } from 'node:fs';
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

/**
 * A load window's view from inside the process, for `npm run bench:node-ab -- --probe`: with
 * BENCH_PROBE_DIR set, SIGWINCH starts a window and the next one ends it and writes
 * $BENCH_PROBE_DIR/probe-<pid>.json: the requests the HTTP server took (its diagnostics channel),
 * every GC by kind with its pause (V8's GCProfiler), the bytes allocated (heap used before each
 * GC less what the previous one left) and promoted by scavenges into old space (what grows the
 * heap that RSS keeps), and the event loop's delay. With BENCH_PROBE_HEAP also a sampling heap
 * profile of every allocation, collected or not (probe-<pid>.heapprofile), to split them by module.
 */
export function onProbeWindows() {
  const dir = process.env.BENCH_PROBE_DIR;
  if (!dir) return;
  let window;
  process.on('SIGWINCH', () => {
    if (!window) {
      window = startWindow();
      return;
    }
    const ending = window;
    window = undefined;
    void endWindow(ending);
  });
  async function startWindow() {
    const { GCProfiler } = v8;
    const { monitorEventLoopDelay } = await import('node:perf_hooks');
    const dc = await import('node:diagnostics_channel');
    const w = {
      requests: 0,
      gc: new GCProfiler(),
      eld: monitorEventLoopDelay({ resolution: 1 }),
      used0: v8.getHeapStatistics().used_heap_size,
    };
    w.onRequest = () => w.requests++;
    dc.subscribe('http.server.request.start', w.onRequest);
    w.unsubscribe = () => dc.unsubscribe('http.server.request.start', w.onRequest);
    if (process.env.BENCH_PROBE_HEAP === 'promoted') {
      // Made before sampling starts, so the vm context it takes is not in the profile.
      v8.setFlagsFromString('--expose-gc');
      w.collect = vm.runInNewContext('gc');
    }
    if (process.env.BENCH_PROBE_HEAP) {
      const { Session } = await import('node:inspector/promises');
      w.session = new Session();
      w.session.connect();
      await w.session.post('HeapProfiler.startSampling', {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: process.env.BENCH_PROBE_HEAP !== 'promoted',
      });
    }
    w.eld.enable();
    w.gc.start();
    return w;
  }
  async function endWindow(started) {
    const w = await started;
    const { statistics } = w.gc.stop();
    w.eld.disable();
    w.unsubscribe();
    const space = (s, name) => s.heapSpaceStatistics.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
    const kinds = {};
    let allocated = 0;
    let promoted = 0;
    let prev = w.used0;
    for (const g of statistics) {
      kinds[g.gcType] ??= { count: 0, pauseMs: 0, maxMs: 0 };
      const k = kinds[g.gcType];
      k.count++;
      k.pauseMs += g.cost / 1000;
      k.maxMs = Math.max(k.maxMs, g.cost / 1000);
      allocated += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - prev);
      prev = g.afterGC.heapStatistics.usedHeapSize;
      if (g.gcType === 'Scavenge' || g.gcType === 'MinorMarkSweep')
        promoted += space(g.afterGC, 'old_space') - space(g.beforeGC, 'old_space');
    }
    allocated += Math.max(0, v8.getHeapStatistics().used_heap_size - prev);
    for (const k of Object.values(kinds)) {
      k.pauseMs = Math.round(k.pauseMs * 10) / 10;
      k.maxMs = Math.round(k.maxMs * 100) / 100;
    }
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    const out = {
      pid: process.pid,
      requests: w.requests,
      allocatedKiB: Math.round(allocated / 1024),
      promotedKiB: Math.round(promoted / 1024),
      gc: kinds,
      loopDelayMs: { p50: ms(w.eld.percentile(50)), p99: ms(w.eld.percentile(99)), max: ms(w.eld.max) },
      memory: usage(),
    };
    if (w.session) {
      if (w.collect) {
        // What the window left in the young generation goes now, so what stays in the profile is
        // what a scavenge kept (promoted, dead or alive), not garbage no scavenge has looked at yet;
        // after a second, so work the last requests left (a usage batch, 250 ms) is done first.
        await new Promise((done) => setTimeout(done, 1000));
        w.collect({ type: 'minor' });
        w.collect({ type: 'minor' });
      }
      const { profile } = await w.session.post('HeapProfiler.stopSampling');
      w.session.disconnect();
      writeFileSync(`${dir}/probe-${process.pid}.heapprofile`, JSON.stringify(profile));
    }
    // Written whole, then renamed: the bench polls for the file.
    writeFileSync(`${dir}/probe-${process.pid}.json.part`, JSON.stringify(out));
    renameSync(`${dir}/probe-${process.pid}.json.part`, `${dir}/probe-${process.pid}.json`);
  }
}

onProbeWindows();
