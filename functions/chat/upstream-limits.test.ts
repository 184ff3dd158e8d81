import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import chatApp from './index.ts';

// An upstream answer that never ends, in workerd against the OpenAI protocol fake: the provider's
// `max_response_bytes` ends it with the gateway's 502 (before any byte) or its `event: error`
// (after the first), and the upstream connection is let go rather than read for ever.

const fake = inject('openaiFakeUrl');
const MAX = 65_536;

const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 5000, max_response_bytes: ${MAX} }
models:
  - { id: endless, provider: fake, upstream: endless, capabilities: [chat], context_window: 8192 }
  - { id: good, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192 }
roles:
  endless: [endless]
  rescued: [endless, good]
policy:
  retries: 2
  backoff: { base_ms: 10, max_ms: 50 }
`;

const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });

const chat = async (body: Record<string, unknown>) =>
  call(chatApp, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    env: await env(),
  });

/** What the fake recorded of its `endless` requests: how many, and how many the client let go. */
async function endlessRequests(): Promise<{ sent: number; closed: number }> {
  const list = (await (await fetch(`${fake}/__requests/endless`)).json()) as Array<{ closedAt?: number }>;
  return { sent: list.length, closed: list.filter((r) => r.closedAt !== undefined).length };
}

async function allClosed(): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const { sent, closed } = await endlessRequests();
    if (sent > 0 && closed === sent) return;
    if (Date.now() > until) throw new Error(`${sent - closed} of ${sent} upstream connections still open`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(() => resetLocalCircuits());

describe('an upstream answer past max_response_bytes', () => {
  it('a body that never ends: one attempt (retrying it would not help), a 502 in the error shape, the connection let go', async () => {
    const before = (await endlessRequests()).sent;
    const res = await chat({ model: 'endless' });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-mas-attempts')).toBe('1');
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error.code).toBe('upstream_error');
    expect(body.error.message).toContain(`upstream sent an answer larger than ${MAX} bytes`);
    expect((await endlessRequests()).sent).toBe(before + 1);
    await allClosed();
  });

  it('another model in the chain still answers', async () => {
    const res = await chat({ model: 'rescued' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('good');
  });

  it('a stream event that never ends: the chunks before it, then event: error, never [DONE]', async () => {
    const res = await chat({ model: 'endless', stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatch(/^data: \{/);
    expect(events[1]).toMatch(/^data: \{/);
    expect(events[2]).toMatch(/^event: error\ndata: /);
    const error = JSON.parse(events[2]!.split('\ndata: ')[1]!) as {
      error: { code: string; message: string };
    };
    expect(error.error.code).toBe('stream_interrupted');
    expect(error.error.message).toContain(`stream event larger than ${MAX} bytes`);
    expect(text).not.toContain('[DONE]');
    await allClosed();
  });
});
