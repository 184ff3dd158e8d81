import { describe, expect, it } from 'vitest';
import { compareCell, comparisonTable, type Participant } from '../../bench/lib/peers.ts';
import type { CellReport } from '../../bench/lib/report.ts';

const cell = (p50: number, p99: number) =>
  ({
    requests: 100,
    seconds: 1,
    rps: 100,
    errors: 0,
    statuses: { '200': 100 },
    latency: { p50, p99 },
    cpuMsPerRequest: {},
  }) as unknown as CellReport;
const floor = (name: string, cpu: number): Participant => ({
  endpoint: 'chat',
  concurrency: 8,
  name,
  kind: 'floor',
  cell: cell(1, 2),
  cpuMsPerRequest: cpu,
});

describe('bench comparisons', () => {
  it('pairs ours on bare workerd with the passthrough and the I/O floor, and stores both ratios', () => {
    const peers = [floor('passthrough-workerd', 0.2), floor('io-floor-workerd', 0.25)];
    const [c] = compareCell('chat', 8, [{ runtime: 'workerd-raw', cell: cell(2, 4), cpu: 0.5 }], peers);
    expect(c!.floor).toMatchObject({ name: 'passthrough-workerd', cpu: 0.2, ratio: { cpu: 2.5 } });
    expect(c!.ioFloor).toMatchObject({
      name: 'io-floor-workerd',
      cpu: 0.25,
      ratio: { cpu: 2 },
      overFloor: 1.25,
    });
    expect(comparisonTable([c!])).toMatch(/2\.00x\s+1\.25x/);
  });

  it('pairs ours on bare workerd with Portkey on bare workerd, and Portkey with the passthrough', () => {
    const portkeyWorkerd: Participant = { ...floor('portkey-workerd', 0.8), kind: 'peer' };
    const peers = [floor('passthrough-workerd', 0.2), portkeyWorkerd];
    const [c] = compareCell('chat', 8, [{ runtime: 'workerd-raw', cell: cell(2, 4), cpu: 0.5 }], peers);
    expect(c!.portkeyWorkerd).toMatchObject({ cpu: 0.8, ratio: { cpu: 0.63 }, overFloor: 4 });
    expect(comparisonTable([c!])).toMatch(/0\.800\s.*0\.63x\s+4\.00x/);
    // Ours on Node is paired with Portkey on Node, not with the Worker.
    const [n] = compareCell('chat', 8, [{ runtime: 'node', cell: cell(2, 4), cpu: 0.5 }], peers);
    expect(n!.portkeyWorkerd).toBeUndefined();
  });

  it('gives ours on Node no I/O floor (there is none on that runtime)', () => {
    const peers = [floor('passthrough-node', 0.4), floor('io-floor-workerd', 0.25)];
    const [c] = compareCell('chat', 8, [{ runtime: 'node', cell: cell(2, 4), cpu: 0.5 }], peers);
    expect(c!.floor?.name).toBe('passthrough-node');
    expect(c!.ioFloor).toBeUndefined();
  });
});
