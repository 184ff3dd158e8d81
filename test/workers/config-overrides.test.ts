import { describe, expect, inject, it } from 'vitest';
import chatApp from '../../functions/chat/index.ts';
import mcpApp from '../../functions/mcp/index.ts';
import messagesApp from '../../functions/messages/index.ts';
import readyApp from '../../functions/ready/index.ts';
import { bearer, call, rawEnv } from './helpers.ts';

// What a deployed Worker does with MAS_MODELS_YAML / MAS_MCP_YAML as written (rawEnv: no
// conversion, unlike testEnv): JSON works, YAML gets a config error saying how to convert it.
const fake = inject('openaiFakeUrl');
const KEY = 'sk-fake-key-0000000000000000000000';
const MODELS = {
  providers: { fake: { type: 'openai_compatible', base_url: `${fake}/v1`, api_key_env: 'FAKE_KEY' } },
  models: [{ id: 'good', provider: 'fake', upstream: 'ok', capabilities: ['chat'], context_window: 8192 }],
  roles: { planning: ['good'] },
};
const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: "${fake}/v1", api_key_env: FAKE_KEY }
models:
  - { id: good, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192 }
roles:
  planning: [good]
`;

const chat = async (models: string) =>
  call(chatApp, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] }),
    env: await rawEnv({ MAS_MODELS_YAML: models, FAKE_KEY: KEY }),
  });

describe('MAS_MODELS_YAML in the worker', () => {
  it('as JSON (pretty or one line), the registry it describes answers', async () => {
    for (const text of [JSON.stringify(MODELS), JSON.stringify(MODELS, null, 2)]) {
      const res = await chat(text);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string; choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]?.message.content).toBeTruthy();
    }
  });

  it('as YAML: a 500 invalid_configuration naming the variable and the command that converts it', async () => {
    const res = await chat(MODELS_YAML);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('invalid_configuration');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toMatch(/^MAS_MODELS_YAML: not JSON\./);
    expect(body.error.message).toContain('npm run -s config:compile -- --json MAS_MODELS_YAML');
    expect(body.error.message).not.toContain(fake); // the value is never quoted
  });

  it('a bad key in JSON keeps the zod message, now shown as invalid_configuration', async () => {
    const res = await chat(JSON.stringify({ ...MODELS, roles: { planning: ['nope'] } }));
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({
      code: 'invalid_configuration',
      message: 'MAS_MODELS_YAML: roles.planning.0: unknown model nope',
    });
  });

  it('the Anthropic-shaped /v1/messages says the same in its own error shape', async () => {
    const res = await call(messagesApp, '/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': bearer('agent').authorization.slice(7) },
      body: JSON.stringify({
        model: 'planning',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      env: await rawEnv({ MAS_MODELS_YAML: MODELS_YAML, FAKE_KEY: KEY }),
    });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toMatch(/^MAS_MODELS_YAML: not JSON\./);
  });
});

describe('MAS_MCP_YAML in the worker', () => {
  const MCP_YAML = 'servers: { files: { url: "https://files.example.com/mcp", ready_check: false } }';

  it('as YAML: /ready reports it on the mcp check, and /mcp answers the same config error', async () => {
    const ready = await call(readyApp, '/ready', { env: await rawEnv({ MAS_MCP_YAML: MCP_YAML }) });
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, { status: string; error?: string }>;
    };
    expect(body.checks.mcp).toMatchObject({ status: 'fail' });
    expect(body.checks.mcp?.error).toMatch(/^MAS_MCP_YAML: not JSON\. .*--json MAS_MCP_YAML/);
    expect(body.checks.mcp?.error).not.toContain('files.example.com');

    const res = await call(mcpApp, '/mcp', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...bearer('agent'),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      env: await rawEnv({ MAS_MCP_YAML: MCP_YAML }),
    });
    expect(res.status).toBe(500);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('invalid_configuration');
    expect(error.message).toMatch(/^MAS_MCP_YAML: not JSON\./);
  });

  it('as JSON: read as before (no mcp config failure on /ready)', async () => {
    const json = JSON.stringify({
      servers: { files: { url: 'https://files.example.com/mcp', ready_check: false } },
    });
    const ready = await call(readyApp, '/ready', { env: await rawEnv({ MAS_MCP_YAML: json }) });
    const body = (await ready.json()) as { checks: Record<string, unknown> };
    expect(body.checks.mcp).toBeUndefined();
    expect(Object.keys(body.checks)).not.toContain('mcp:files'); // ready_check: false, as configured
  });
});
