import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { registry } from '../metrics/registry.ts';
import type { Admission, CircuitBreaker } from './circuit-breaker.ts';
import { modelsConfigSchema } from './models-schema.ts';
import type { ResolvedModel } from './registry.ts';
import { type RouteContext, routeCall } from './router.ts';

/**
 * A stream's successful attempt is counted (duration, `llm_requests_total{status="ok"}`, the
 * circuit's window) when its first chunk has gone out (`opened`) or when it ends (`dispose`),
 * once, not before the router returns it: that work is off the first byte's path. A plain call,
 * and a stream that is the circuit's probe (its success closes the circuit for everyone), are
 * counted before the router returns.
 */

const config = modelsConfigSchema.parse({
  providers: {
    fake: { type: 'openai_compatible', base_url: 'http://fake.test/v1', api_key_env: 'FAKE_KEY' },
  },
  models: [{ id: 'opened-m', provider: 'fake', upstream: 'm', capabilities: ['chat'], context_window: 8192 }],
  roles: { r: ['opened-m'] },
});
const model: ResolvedModel = {
  model: config.models[0]!,
  providerId: 'fake',
  provider: { ...config.providers.fake!, timeout_ms: 1000 },
  baseURL: 'http://fake.test/v1',
  apiKey: 'k',
};

/** A breaker that admits every call, as a probe or not, and counts the successes reported. */
function countingBreaker(probe: boolean) {
  let successes = 0;
  const breaker = {
    admit: async (): Promise<Admission> => ({
      allowed: true,
      permit: {
        probe,
        success: async () => {
          successes++;
        },
        failure: async () => undefined,
        release: async () => undefined,
      },
    }),
    coolDown: async () => undefined,
  } as unknown as CircuitBreaker;
  return { breaker, successes: () => successes };
}

function context(breaker: CircuitBreaker, streaming: boolean): RouteContext {
  return {
    target: { role: 'r', chain: [model] },
    policy: config.policy,
    breaker,
    log: createLogger({}, 'silent'),
    signal: new AbortController().signal,
    headers: () => ({}),
    streaming,
  };
}

async function okCount(): Promise<number> {
  const text = await registry.getSingleMetricAsString('llm_requests_total');
  const line = text.split('\n').find((l) => l.includes('model="opened-m"') && l.includes('status="ok"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('router: when a successful attempt is counted', () => {
  it('a stream: at opened(), once, whatever is called after', async () => {
    const { breaker, successes } = countingBreaker(false);
    const before = await okCount();
    const routed = await routeCall(context(breaker, true), async () => 'stream');
    expect(successes()).toBe(0);
    expect(await okCount()).toBe(before);
    routed.opened();
    expect(successes()).toBe(1);
    expect(await okCount()).toBe(before + 1);
    routed.opened();
    routed.dispose();
    expect(successes()).toBe(1);
    expect(await okCount()).toBe(before + 1);
  });

  it('a stream that ends (or is cancelled) before its first chunk went out: at dispose()', async () => {
    const { breaker, successes } = countingBreaker(false);
    const before = await okCount();
    const routed = await routeCall(context(breaker, true), async () => 'stream');
    routed.dispose();
    expect(successes()).toBe(1);
    expect(await okCount()).toBe(before + 1);
  });

  it("a stream that is the circuit's probe, and a plain call: before the router returns", async () => {
    const probe = countingBreaker(true);
    const before = await okCount();
    await routeCall(context(probe.breaker, true), async () => 'stream');
    expect(probe.successes()).toBe(1);
    const plain = countingBreaker(false);
    const routed = await routeCall(context(plain.breaker, false), async () => 'answer');
    expect(plain.successes()).toBe(1);
    expect(await okCount()).toBe(before + 2);
    routed.opened();
    routed.dispose();
    expect(plain.successes()).toBe(1);
  });
});
