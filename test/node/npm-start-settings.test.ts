import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { type NpmStart, startNpmStart } from './npm-start.ts';

const KEY = `mas_settings_test_${randomBytes(12).toString('hex')}`;
// The upstream model name carries what dotenv files mangle: double quotes (YAML's \" escapes),
// a single quote, a $NAME that dotenv-expand would expand, and a backslash; `mode:` makes the
// fake answer as `ok` whatever follows.
const UPSTREAM_MODEL = `mode:say "hi" it's $HOME \\ done`;
// A whole registry given as a setting, multi-line and quoted, as a deployment would set it.
const MODELS_YAML = `# given whole: the local OpenAI-compatible server answers the "fast" role
providers:
  local:
    type: openai_compatible
    base_url: "http://127.0.0.1:9/v1"
    base_url_env: LLM_BASE_URL
    api_key_env: LLM_API_KEY
    timeout_ms: 10000
models:
  - id: "quoted-model"
    provider: local
    upstream: "mode:say \\"hi\\" it's $HOME \\\\ done"
    capabilities: [chat]
    context_window: 8192
roles:
  fast: ['quoted-model']
`;
// A secret with a double quote, a single quote, a $ and a literal backslash-n.
const API_KEY = `sk-local-"quoted" it's $HOME \\n end`;

/**
 * Issue #22's local-stack items under `npm start` (bare workerd) and `npm run dev` (wrangler dev):
 * settings arrive intact (quoting), CORS_ORIGINS is passed, and no raw request line is printed.
 */
describe.each([
  ['npm start', false],
  ['npm run dev', true],
] as const)('settings reach the worker intact under %s', (_name, dev) => {
  let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
  let server: NpmStart;

  beforeAll(async () => {
    fake = await startOpenAIFake();
    server = startNpmStart(
      {
        LLM_BASE_URL: `${fake.url}/v1`,
        LLM_API_KEY: API_KEY,
        MAS_MODELS_YAML: MODELS_YAML,
        MAS_API_KEYS: `settings-tester:admin:${await sha256Hex(KEY)}`,
        CORS_ORIGINS: 'http://app.example',
        // wrangler's default level, where it prints a line per request (the helper's is warn).
        WRANGLER_LOG_LEVEL: 'log',
      },
      { dev },
    );
    await server.ready;
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await fake?.close();
  }, 60_000);

  it('a chat call on the role MAS_MODELS_YAML defines works, and the upstream gets the exact model name and key', async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(JSON.parse(body).choices[0].message.content).toBe('Hello from the fake.');
    const seen = (await (
      await fetch(`${fake.url}/__requests/${encodeURIComponent(UPSTREAM_MODEL)}`)
    ).json()) as Array<{ body: { model: string }; headers: Record<string, string> }>;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body.model).toBe(UPSTREAM_MODEL);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('prints no raw request line: a secret in a URL path stays out of the output', async () => {
    const secret = `sk-proj-${randomBytes(24).toString('hex')}`;
    const id = (tag: string) => `${tag}-${randomBytes(8).toString('hex')}`;
    const secretRequest = id('secret-path');
    const res = await fetch(`${server.url}/v1/integrations/mindex/data/${secret}?key=${secret}`, {
      headers: { authorization: `Bearer ${KEY}`, 'x-correlation-id': secretRequest },
    });
    await res.text();
    // wrangler writes its line for a request a moment after the response: two more round trips,
    // each awaited in the output, leave it time to appear (with the filter off this fails).
    for (const tag of ['after', 'after-again']) {
      const after = id(tag);
      await (await fetch(`${server.url}/health`, { headers: { 'x-correlation-id': after } })).text();
      await expect.poll(() => server.output(), { timeout: 20_000 }).toContain(after);
    }
    expect(server.output()).toContain(secretRequest); // the request was logged, by our access log
    expect(server.output()).not.toContain(secret);
    expect(server.output()).not.toMatch(/\b(GET|POST) \/\S* \d{3}\b/); // no request line at all
  });

  it('passes CORS_ORIGINS through: a preflight from that origin is allowed', async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    await res.text();
    expect(res.headers.get('access-control-allow-origin')).toBe('http://app.example');
  });
});
