import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// `npm run bench` in --quick mode for two cells on the Node runtime (no wrangler build, so it
// stays fast): the harness must start everything, measure both targets and write sane JSON.
describe('bench --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'mas-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures health and chat, direct and through, and writes the result JSON', () => {
    const run = spawnSync(
      process.execPath,
      [
        'bench/run.ts',
        '--quick',
        '--runtime',
        'node',
        '--only',
        'health,chat',
        '--concurrency',
        '2',
        '--duration',
        '0.3',
        '--warmup',
        '0.1',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/Δp50/);
    const files = readdirSync(out).filter((f) => f.endsWith('-node-quick.json'));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    expect(result.runtime).toBe('node');
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.cells.map((c: { endpoint: string }) => c.endpoint)).toEqual(['health', 'chat']);
    for (const cell of result.cells) {
      for (const side of [cell.direct, cell.through]) {
        expect(side.requests).toBeGreaterThan(0);
        expect(side.errors).toBe(0);
        expect(side.latency.p50).toBeGreaterThan(0);
        expect(side.latency.p50).toBeLessThanOrEqual(side.latency.p99);
        expect(side.latency.p99).toBeLessThanOrEqual(side.latency.max);
        expect(side.rps).toBeGreaterThan(0);
      }
      expect(cell.overhead.p50).toBeCloseTo(cell.through.latency.p50 - cell.direct.latency.p50, 2);
      expect(cell.through.cpuMsPerRequest.fn).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);
});
