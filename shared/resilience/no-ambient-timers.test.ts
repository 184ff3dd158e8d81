import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * "No per-request timer or signal outlives its request": the product's code takes its time limits
 * from ./deadline.ts, which clears them when the work settles. `AbortSignal.timeout(ms)` stays armed
 * (with what it references) for the whole `ms` after the work ended, and `AbortSignal.any()` keeps
 * its sources; neither may come back in shared/ or functions/ (tests may use them). The one
 * exception is deadline.ts's `RequestTimer`, `RequestStopwatch` and `RequestIdleTimer`, which only run on workerd,
 * where a request's timers end with the request (`callLimit`'s comment; under Node, where these
 * tests run, `callLimit` and `requestDeadline` are a `deadline`: router-timers.test.ts).
 */
const EXEMPT = join('shared', 'resilience', 'deadline.ts');
const root = join(import.meta.dirname, '..', '..');

function productFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

/** The code of a file without its comments (they may name the patterns, to say why not). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

describe('per-request timers', () => {
  it('no AbortSignal.timeout or AbortSignal.any in shared/ or functions/', () => {
    const files = [...productFiles('shared'), ...productFiles('functions')];
    expect(files.length).toBeGreaterThan(50);
    const uses = (text: string) => /AbortSignal\s*\.\s*(timeout|any)\s*\(/.test(code(text));
    const offenders = files.filter((f) => f !== EXEMPT && uses(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
    // In deadline.ts, only inside the workerd-only classes, each reached only past the guard.
    let deadline = readFileSync(join(root, EXEMPT), 'utf8');
    for (const name of ['RequestTimer', 'RequestStopwatch', 'RequestIdleTimer']) {
      const workerdOnly = new RegExp(`\\nclass ${name} [\\s\\S]*?\\n}\\n`).exec(deadline)?.[0];
      expect(workerdOnly && uses(workerdOnly)).toBe(true);
      deadline = deadline.replace(workerdOnly!, '');
    }
    expect(uses(deadline)).toBe(false);
    const guarded = deadline.match(
      /if \(!onWorkerd \|\| !Number\.isFinite\(ms\)\) return deadline\(ms, parent\);/g,
    );
    expect(guarded).toHaveLength(2);
    expect(deadline.match(/new Request(Timer|Stopwatch)\(/g)).toHaveLength(2);
  });
});
