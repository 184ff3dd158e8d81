import { describe, expect, it } from 'vitest';
import {
  answerProblem,
  FIRST_KINDS,
  firstKinds,
  firstRequest,
  HEALTH,
  needsSeed,
} from '../../bench/lib/first-requests.ts';
import { deploymentsOf } from '../../bench/lib/setup.ts';

// bench:isolate-start --first real sends each deployment's main route as a new isolate's first
// request; a deployment without one would end the run after its stack came up.
describe('first requests (bench:isolate-start --first)', () => {
  const id = '00000000-0000-4000-8000-000000000000';

  it('has a real first request for every deployment wrangler.toml defines', () => {
    for (const d of deploymentsOf()) {
      const spec = firstRequest(d, 'real', needsSeed(d, 'real') ? id : undefined);
      expect(spec.path.startsWith('/'), d).toBe(true);
      // Only health's real request is its GET /health.
      expect(spec === HEALTH, d).toBe(d === 'health');
    }
  });

  it('sends GET /health for --first health, whatever the deployment', () => {
    for (const d of deploymentsOf()) expect(firstRequest(d, 'health')).toBe(HEALTH);
  });

  it("decides the seeded approval, and refuses approval's real request without one", () => {
    expect(needsSeed('approval', 'real')).toBe(true);
    expect(needsSeed('approval', 'health')).toBe(false);
    expect(firstRequest('approval', 'real', id).path).toBe(`/v1/approvals/${id}/decision`);
    expect(() => firstRequest('approval', 'real')).toThrow(/pending approval/);
  });

  it('reads --first as a list of known kinds', () => {
    expect(firstKinds('health,real')).toEqual([...FIRST_KINDS]);
    expect(() => firstKinds('health,warm')).toThrow(/--first/);
  });

  it('counts a sample only when the answer is the one its request expects', () => {
    const mcp = firstRequest('mcp', 'real');
    expect(answerProblem(mcp, 200, '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}')).toBeUndefined();
    expect(answerProblem(mcp, 200, '{"result":{"isError":true}}')).toMatch(/answered with .*isError/);
    expect(answerProblem(mcp, 200, '{"error":{"code":-32601}}')).toMatch(/answered without/);
    expect(answerProblem(firstRequest('audit', 'real'), 200, '{}')).toMatch(/answered 200, not 201/);
  });
});
