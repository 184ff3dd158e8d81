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

/** The settings of issue #22's quoting item, under `npm start` (bare workerd) and `npm run dev`. */
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
});
