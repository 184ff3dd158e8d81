import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMcpFake } from '../../test/fakes/mcp-fake.ts';
import type { ResolvedServer } from './config.ts';
import { mcpConfigSchema } from './mcp-schema.ts';
import { resultSchemas } from './protocol.ts';
import { UpstreamError, withUpstream } from './upstream.ts';

/**
 * "No per-request timer or signal outlives its request", for MCP upstream exchanges: answers,
 * timeouts and a caller leaving, many times, leave no listener on the caller's signal, and no
 * `AbortSignal.any` (which kept every fetch's sources) is made.
 */
let fake: Awaited<ReturnType<typeof startMcpFake>>;
beforeAll(async () => {
  fake = await startMcpFake();
});
afterAll(() => fake.close());

const serverOf = (transport: 'streamable_http' | 'sse', timeoutMs: number): ResolvedServer => {
  const url = transport === 'sse' ? `${fake.url}/sse` : `${fake.url}/mcp`;
  const config = mcpConfigSchema.parse({ servers: { files: { url, transport, timeout_ms: timeoutMs } } });
  return { name: 'files', config: config.servers.files!, url: new URL(url), headers: {} };
};

/** A caller's signal that counts the abort listeners on it. */
function countedSignal() {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
    if (type === 'abort') live.add(fn);
    add(type, fn, o as never);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
    if (type === 'abort') live.delete(fn);
    remove(type, fn, o as never);
  }) as typeof signal.removeEventListener;
  return { controller, signal, listeners: () => live.size };
}

describe('MCP upstream exchanges: nothing outlives them', () => {
  it.each(['streamable_http', 'sse'] as const)(
    '%s: answers, timeouts and a caller leaving',
    async (transport) => {
      const anySignal = vi.spyOn(AbortSignal, 'any');
      const caller = countedSignal();
      const server = serverOf(transport, 5000);
      for (let i = 0; i < 10; i++) {
        const { tools } = await withUpstream(
          server,
          (client) => client.request('tools/list', {}, resultSchemas().listTools),
          {
            signal: caller.signal,
          },
        );
        expect(tools.map((t) => t.name)).toContain('read_file');
      }
      expect(caller.listeners()).toBe(0);

      // A tool that never answers: the exchange's own deadline ends it, as a timeout.
      const quick = serverOf(transport, 300);
      for (let i = 0; i < 2; i++) {
        await expect(
          withUpstream(
            quick,
            (client) =>
              client.request('tools/call', { name: 'stall', arguments: {} }, resultSchemas().callTool),
            {
              signal: caller.signal,
            },
          ),
        ).rejects.toMatchObject({ kind: 'timeout' });
      }
      expect(caller.listeners()).toBe(0);

      // The caller leaves mid-call.
      const leaving = countedSignal();
      const call = withUpstream(
        server,
        (client) => client.request('tools/call', { name: 'stall', arguments: {} }, resultSchemas().callTool),
        {
          signal: leaving.signal,
        },
      );
      await vi.waitFor(() => expect(leaving.listeners()).toBeGreaterThan(0));
      leaving.controller.abort(new Error('caller left'));
      await expect(call).rejects.toBeInstanceOf(UpstreamError);
      expect(leaving.listeners()).toBe(0);
      expect(anySignal).not.toHaveBeenCalled();
      anySignal.mockRestore();
    },
  );
});
