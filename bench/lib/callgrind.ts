/**
 * The bench's bare workerd (a generated capnp config, bench/lib/runtimes.ts) run under valgrind's
 * callgrind, which counts the instructions (Ir) every thread of it executes in user space, the
 * same count however loaded the machine is. `window(run)` zeroes the counters, runs `run` (the
 * load, from this process, natively) and dumps them: the window's instructions, split into the V8
 * main thread's garbage collections, the rest of the main thread and the other threads. bench/instructions.ts drives it.
 * No workerd or V8 flag is added: the binary runs as the bench runs it (JIT on; callgrind's
 * --smc-check=all-non-file makes it see code V8 writes at run time).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../local/ports.ts';
import { bareWorkerdConfig, stopChild, untilHealthy, workerdBinary } from './runtimes.ts';

const run = promisify(execFile);

/** One window: all instructions, the main thread's garbage collections and the other threads'. */
export interface Counts {
  ir: number;
  /** The main thread's collections (inclusive: workerd's GC callbacks, the allocator under them). */
  gcIr: number;
  /** How many collections the main thread entered. */
  gcEntries: number;
  /** Threads but the main one: V8's workers (parallel scavenging, sweeping, concurrent compiles). */
  otherThreadsIr: number;
}

/**
 * Where the main thread enters a collection: a task V8 posted (MinorGCJob, ScavengeJob, incremental
 * marking, the memory reducer) or an allocation that found no room (HeapAllocator, Heap::Collect*).
 */
const GC_ENTRY =
  /^v8::internal::(MinorGCJob::Task::RunInternal|ScavengeJob::Task::RunInternal|IncrementalMarkingJob::Task::RunInternal|MemoryReducer::TimerTask::RunInternal|HeapAllocator::CollectGarbageAndRetryAllocation|Heap::CollectGarbage|Heap::CollectAllGarbage|Heap::CollectAllAvailableGarbage)\(/;
/** Callers inside a collection already (a call from one is part of an entry counted further up). */
const GC_INSIDE =
  /v8::internal::(Heap|HeapAllocator|MinorGCJob|ScavengeJob|IncrementalMarkingJob|MemoryReducer)::|heap::base::|PushAllRegistersAndIterateStack/;

/**
 * Reads one thread's callgrind dump (format 1, `events: Ir`, names compressed or not): `summary`,
 * and the inclusive cost and count of the calls into GC_ENTRY from callers not GC_INSIDE.
 */
export function parseCallgrind(text: string): { ir: number; gcIr: number; gcEntries: number } {
  const names = new Map<string, string>();
  /** `fn=(12) name` defines id 12; `fn=(12)` refers to it; without compression the name itself. */
  const name = (spec: string) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1]!, m[2]);
    return names.get(m[1]!) ?? '';
  };
  let ir: number | undefined;
  let gcIr = 0;
  let gcEntries = 0;
  let fn = '';
  let cfn = '';
  /** The calls= line's count when the next cost line is that call's inclusive cost. */
  let pendingCalls: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('summary:')) ir = Number(line.slice(8).trim());
    else if (line.startsWith('fn=')) fn = name(line.slice(3));
    else if (line.startsWith('cfn=')) cfn = name(line.slice(4));
    else if (line.startsWith('calls=')) pendingCalls = Number(line.slice(6).split(' ')[0]);
    else if (pendingCalls !== undefined && /^[-+*0-9]/.test(line)) {
      if (GC_ENTRY.test(cfn) && !GC_INSIDE.test(fn)) {
        gcIr += Number(line.trim().split(/\s+/)[1] ?? 0);
        gcEntries += pendingCalls;
      }
      pendingCalls = undefined;
    }
  }
  if (ir === undefined) throw new Error('callgrind dump without a summary: line');
  return { ir, gcIr, gcEntries };
}

/**
 * One window's dumps (--separate-threads=yes: `<base>.<n>-<thread>`, thread 01 the main one,
 * workerd's event loop and the isolate) summed into Counts.
 */
export function windowCounts(dumps: Array<{ thread: number; text: string }>): Counts {
  const out: Counts = { ir: 0, gcIr: 0, gcEntries: 0, otherThreadsIr: 0 };
  for (const d of dumps) {
    const c = parseCallgrind(d.text);
    out.ir += c.ir;
    if (d.thread === 1) {
      out.gcIr += c.gcIr;
      out.gcEntries += c.gcEntries;
    } else out.otherThreadsIr += c.ir;
  }
  return out;
}

export interface CallgrindWorkerd {
  url: string;
  pid: number;
  /** Counters zeroed, `load` run, `settleMs` waited (work after the last response), counters dumped. */
  window(load: () => Promise<void>, settleMs: number): Promise<Counts>;
  stop(): Promise<void>;
}

/**
 * `files` (the first the entry; .yaml as text modules) copied beside a generated config and served
 * by `valgrind --tool=callgrind workerd serve` on a free loopback port, with `bindings` as text.
 */
export async function startCallgrindWorkerd(
  files: Array<{ from: string; name: string }>,
  bindings: Record<string, string>,
  options: { startTimeoutMs?: number; keepDumpsIn?: string } = {},
): Promise<CallgrindWorkerd> {
  const dir = mkdtempSync(join(tmpdir(), 'mas-callgrind-'));
  for (const f of files) copyFileSync(f.from, join(dir, f.name));
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.capnp'),
    bareWorkerdConfig(
      port,
      files.map((f) => f.name),
      bindings,
    ),
  );
  const child: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // V8 writes and rewrites machine code at run time (JIT, inline caches): without this
      // valgrind would run stale translations.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${join(dir, 'cg.out')}`,
      // One dump per thread: the main thread's collections are told from V8's worker threads.
      '--separate-threads=yes',
      workerdBinary(),
      'serve',
      join(dir, 'config.capnp'),
      '--experimental',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(url, child, 'valgrind workerd', {
    ms: options.startTimeoutMs ?? 300_000,
    stop: () => stopChild(child, dir),
    detail: () => stderr,
    // Any HTTP answer means the socket is up (the passthrough 404s on GET /).
    probe: (u, signal) =>
      fetch(u, { signal }).then(
        () => true,
        () => false,
      ),
    everyMs: 500,
  });
  const pid = child.pid!;
  const control = (flag: string) => run('callgrind_control', [flag, String(pid)], { timeout: 120_000 });
  let windows = 0;
  const dumps = () => new Set(readdirSync(dir).filter((f) => f.startsWith('cg.out.')));
  return {
    url,
    pid,
    async window(load, settleMs) {
      await control('-z');
      await load();
      await new Promise((r) => setTimeout(r, settleMs));
      const before = dumps();
      await control('-d');
      const fresh = [...dumps()].filter((f) => !before.has(f));
      if (!fresh.length) throw new Error(`callgrind -d: no new dump in ${dir}`);
      const n = ++windows;
      const counts = windowCounts(
        fresh.map((f) => {
          const path = join(dir, f);
          const text = readFileSync(path, 'utf8');
          // Kept, each window's dumps are a profile of it (callgrind_annotate, kcachegrind).
          if (options.keepDumpsIn) renameSync(path, join(options.keepDumpsIn, `${pid}-${n}-${f}`));
          else rmSync(path);
          return { thread: Number(/-(\d+)$/.exec(f)?.[1] ?? 1), text };
        }),
      );
      return counts;
    },
    stop: () => stopChild(child, dir),
  };
}
