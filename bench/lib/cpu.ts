/**
 * CPU time of a process tree from /proc (Linux): utime + stime of the process and all its
 * descendants, in ms. Clock-tick resolution (usually 10 ms), so it is read around windows of
 * thousands of requests, where that rounding is noise. Returns NaN where /proc is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function ownTicks(pid: number): number {
  // Fields after the command name (which may hold spaces) start at ") ": utime is field 14.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Child pids of a process, from every thread's children list. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    const tasks = `/proc/${pid}/task`;
    for (const tid of readdirSync(tasks)) {
      const text = readFileSync(`${tasks}/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process is gone.
  }
  return out;
}

/** CPU ms used so far by `pid` and its live descendants. */
export function treeCpuMs(pid: number): number {
  if (!existsSync(`/proc/${pid}/stat`)) return Number.NaN;
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      ticks += ownTicks(p);
    } catch {
      continue;
    }
    stack.push(...childPids(p));
  }
  return (ticks * 1000) / clockTicks();
}

/** Descendant pids whose command name matches (e.g. the workerd under Miniflare). */
export function findDescendants(pid: number, comm: RegExp): number[] {
  const found: number[] = [];
  const stack = childPids(pid);
  while (stack.length) {
    const p = stack.pop()!;
    try {
      if (comm.test(readFileSync(`/proc/${p}/comm`, 'utf8').trim())) found.push(p);
    } catch {
      continue;
    }
    stack.push(...childPids(p));
  }
  return found;
}

/** The postmaster of a local PostgreSQL (a `postgres` process whose parent is not one), if any. */
export function findPostmaster(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() !== 'postgres') return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** VmRSS and VmHWM (its peak) of one process, in MiB; NaN where /proc is missing or it is gone. */
export function processMemoryMiB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}
