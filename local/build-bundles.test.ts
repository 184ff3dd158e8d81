import { describe, expect, it } from 'vitest';
import { evaluateTargets } from '../bench/lib/targets.ts';
import { DEPLOYMENTS, targetKiB, targetVerdict } from './build-bundles.ts';

const KiB = 1024;

describe("issue #23's bundle targets", () => {
  it('chat 120, health 30, every other function 80, and none for the combined deployment', () => {
    expect(targetKiB('chat')).toBe(120);
    expect(targetKiB('health')).toBe(30);
    for (const d of DEPLOYMENTS.filter((d) => !['all', 'chat', 'health'].includes(d)))
      expect(targetKiB(d)).toBe(80);
    expect(targetKiB('all')).toBeNull();
  });

  it('`npm run build` says met or missed at the 0.1 KiB it prints', () => {
    expect(targetVerdict('audit', 80 * KiB)).toBe('<= 80 met');
    expect(targetVerdict('audit', 80.04 * KiB)).toBe('<= 80 met');
    expect(targetVerdict('audit', 80.1 * KiB)).toBe('<= 80 MISSED');
    expect(targetVerdict('health', 31 * KiB)).toBe('<= 30 MISSED');
    expect(targetVerdict('all', 900 * KiB)).toBe('none (combined)');
  });

  it("the bench's targets carry one bundle row per function with the same goal, none for `all`", () => {
    const bundles = DEPLOYMENTS.map((deployment) => ({ deployment, gzipBytes: 100 * KiB }));
    const rows = evaluateTargets({
      runtime: 'workerd',
      rows: [],
      bundles,
      comparisons: [],
      memory: [],
      coldStart: [],
      isolateStart: [],
    }).filter((t) => t.issue === 23 && t.name.endsWith('bundle gzip'));
    expect(rows.map((r) => r.name)).toEqual(
      DEPLOYMENTS.filter((d) => d !== 'all').map((d) => `${d} bundle gzip`),
    );
    for (const r of rows) {
      const deployment = r.name.split(' ')[0]!;
      expect(r.goal).toBe(`≤ ${targetKiB(deployment)} KiB`);
      expect(r.met).toBe(100 <= targetKiB(deployment)!);
    }
  });
});
