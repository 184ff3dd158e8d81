/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof, or the DevTools Profiler domain) and says where the
 * main thread's time went in a time window: self time per category (our modules by folder, each
 * npm package, undici, web streams, Node's HTTP/net, the module loader, GC, V8/native) and the top
 * functions. A frame without a URL (a V8 builtin such as JSON.parse) is charged to the nearest
 * caller that has one, so a builtin called by our code counts as ours.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileBreakdown {
  /** Sampled main-thread time in the window, idle excluded (µs). */
  busyUs: number;
  idleUs: number;
  /** Of busyUs: samples whose own frame is native (a builtin or runtime API, GC, (program)). */
  nativeUs: number;
  categories: Array<{ category: string; us: number }>;
  top: Array<{ fn: string; category: string; us: number }>;
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** Category of one frame, or undefined to charge it to its caller. */
export function categoryOf(frame: CallFrame, root = process.cwd()): string | undefined {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return 'GC (main thread)';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'V8/native, no JS frame (program)';
  if (name === '(root)') return undefined;
  // Builtins and WebAssembly (undici's llhttp, Node's TS stripper) are charged to their caller.
  if (!url || url.startsWith('wasm://')) return undefined;
  if (url.startsWith('node:internal/deps/undici')) return 'node: undici (fetch)';
  if (url.startsWith('node:internal/webstreams')) return 'node: web streams';
  if (/^node:(internal\/)?(_http|http|net|stream_base_commons|streams|dns|timers|tcp)/.test(url))
    return 'node: http, net, streams, timers';
  if (url.startsWith('node:internal/modules')) return 'node: module loader (TS stripping included)';
  if (url.startsWith('node:internal/process/task_queues')) return 'node: promise and nextTick queues';
  if (url.startsWith('node:internal/crypto')) return 'node: crypto';
  if (url.startsWith('node:')) return 'node: other';
  const nm = `/${url}`.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = `/${url}`.slice(nm + '/node_modules/'.length).split('/');
    return `npm: ${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  let path = url.replace(/^(\.\.\/)+/, '');
  try {
    if (url.startsWith('file:')) path = relative(root, fileURLToPath(url));
  } catch {
    // not a file URL
  }
  if (path.startsWith('node-built-in-modules:')) return 'bundle: node built-ins (unenv polyfills)';
  const [top, second] = path.split('/');
  if (top === 'functions' || top === 'shared') return `ours: ${top}/${second?.replace(/\.tsx?$/, '')}`;
  if (top === 'bench') return 'bench harness';
  return `other: ${path.slice(0, 60)}`;
}

/** Self time per category and the top functions of the samples in [fromUs, toUs] (profile clock). */
export function breakdown(
  profile: CpuProfile,
  fromUs = Number.NEGATIVE_INFINITY,
  toUs = Number.POSITIVE_INFINITY,
  topN = 20,
  remap?: (frame: CallFrame) => CallFrame,
): ProfileBreakdown {
  if (remap) for (const n of profile.nodes) n.callFrame = remap(n.callFrame);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const categoryCache = new Map<number, string>();
  const resolve = (id: number): string => {
    const cached = categoryCache.get(id);
    if (cached) return cached;
    let cur: number | undefined = id;
    let category: string | undefined;
    while (cur !== undefined && !category) {
      category = categoryOf(byId.get(cur)!.callFrame);
      cur = parent.get(cur);
    }
    const out = category ?? 'V8 builtins, no caller with a URL';
    categoryCache.set(id, out);
    return out;
  };
  const categories = new Map<string, number>();
  const functions = new Map<string, { category: string; us: number }>();
  let t = profile.startTime;
  let busy = 0;
  let idle = 0;
  let native = 0;
  const n = profile.samples.length;
  for (let i = 0; i < n; i++) {
    t += profile.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    // A sample stands for the time until the next one.
    const dur = i + 1 < n ? profile.timeDeltas[i + 1]! : 0;
    const id = profile.samples[i]!;
    const category = resolve(id);
    if (category === 'idle') {
      idle += dur;
      continue;
    }
    busy += dur;
    const own = byId.get(id)!.callFrame;
    if (
      !own.url ||
      own.url.startsWith('wasm://') ||
      own.functionName === '(program)' ||
      own.functionName === '(garbage collector)'
    )
      native += dur;
    categories.set(category, (categories.get(category) ?? 0) + dur);
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(builtin)'}`;
    const entry = functions.get(key) ?? { category, us: 0 };
    entry.us += dur;
    functions.set(key, entry);
  }
  return {
    busyUs: busy,
    idleUs: idle,
    nativeUs: native,
    categories: [...categories.entries()]
      .map(([category, us]) => ({ category, us }))
      .sort((a, b) => b.us - a.us),
    top: [...functions.entries()]
      .map(([fn, v]) => ({ fn, ...v }))
      .sort((a, b) => b.us - a.us)
      .slice(0, topN),
  };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  try {
    if (url.startsWith('file:')) return relative(process.cwd(), fileURLToPath(url));
  } catch {
    // not a file URL
  }
  return url;
}

/**
 * Maps frames of a bundled script back to their sources through its source map (the deploy
 * bundle's index.js.map), so a minified bundle's profile still names modules.
 */
export function sourceMapRemap(scriptSuffix: string, mapFile: string): (frame: CallFrame) => CallFrame {
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
  return (frame) => {
    if (!frame.url.endsWith(scriptSuffix)) return frame;
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (!entry.originalSource) return frame;
    return { ...frame, url: entry.originalSource, lineNumber: entry.originalLine ?? frame.lineNumber };
  };
}
