import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { modelsConfigSchema } from '../llm/models-schema.ts';
import { mcpConfigSchema } from '../mcp/mcp-schema.ts';
import { parseOverride } from './override.ts';
import { parseConfig } from './parse-config.ts';

const MCP_YAML = `
wait_seconds: 10
servers:
  files:
    url: "https://files.example.com/mcp"
    tools: { read_file: { category: read } }
`;
const MCP_JSON = JSON.stringify({
  wait_seconds: 10,
  servers: { files: { url: 'https://files.example.com/mcp', tools: { read_file: { category: 'read' } } } },
});

/** What parseOverride threw. */
function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error('did not throw');
}

describe('MAS_*_YAML overrides in a Worker (JSON)', () => {
  it('a JSON override gives what the YAML parser gave for the same text, and what the YAML file gives', () => {
    const json = parseOverride('MAS_MCP_YAML', MCP_JSON, mcpConfigSchema);
    expect(json).toEqual(parseConfig('MAS_MCP_YAML', MCP_JSON, mcpConfigSchema));
    expect(json).toEqual(parseConfig('MAS_MCP_YAML', MCP_YAML, mcpConfigSchema));
    expect(json.servers.files?.timeout_ms).toBe(30_000); // defaults filled, as before
  });

  it('an empty value or null is an empty document, as in YAML: the schema defaults', () => {
    expect(parseOverride('MAS_MCP_YAML', '  \n', mcpConfigSchema)).toEqual(
      parseConfig('MAS_MCP_YAML', '', mcpConfigSchema),
    );
    expect(parseOverride('MAS_MCP_YAML', 'null', mcpConfigSchema).servers).toEqual({});
  });

  it('YAML text is a 500 invalid_configuration naming the variable and how to convert it, never quoting the value', () => {
    const err = thrown(() => parseOverride('MAS_MCP_YAML', MCP_YAML, mcpConfigSchema));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 500, code: 'invalid_configuration', type: 'api_error' });
    expect(err.message).toMatch(/^MAS_MCP_YAML: not JSON\. /);
    expect(err.message).toContain('npm run -s config:compile -- --json MAS_MCP_YAML <file.yaml>');
    expect(err.message).not.toContain('files.example.com');
    expect(err.message).not.toContain('wait_seconds');
  });

  it('broken JSON says where, still without quoting it', () => {
    const text = '{\n  "servers": {\n    "files": { "url": "https://secret.example/mcp" "x": 1 }\n  }\n}';
    const err = thrown(() => parseOverride('MAS_MCP_YAML', text, mcpConfigSchema));
    expect(err.message).toMatch(/^MAS_MCP_YAML: not JSON \(line 3, column \d+\)\. /);
    expect(err.message).not.toContain('secret.example');
  });

  it('a bad key is the same zod message config:compile gives, as a 500 invalid_configuration', () => {
    const text = JSON.stringify({ servers: { files: { url: 'not a url' } }, wait_seconds: 999 });
    const err = thrown(() => parseOverride('MAS_MCP_YAML', text, mcpConfigSchema));
    expect(err).toMatchObject({ status: 500, code: 'invalid_configuration' });
    const yamlSide = thrown(() => parseConfig('MAS_MCP_YAML', text, mcpConfigSchema));
    expect(err.message).toBe(yamlSide.message);
    expect(err.message).toBe(
      'MAS_MCP_YAML: wait_seconds: Too big: expected number to be <=120; servers.files.url: Invalid URL',
    );
  });

  it('the models registry reads the same way (an unknown model named by the schema)', () => {
    const registry = (roles: string[]) =>
      JSON.stringify({
        providers: { p: { type: 'openai_compatible', base_url: 'http://127.0.0.1:1/v1', api_key_env: 'K' } },
        models: [{ id: 'm', provider: 'p', upstream: 'u', capabilities: ['chat'], context_window: 8192 }],
        roles: { planning: roles },
      });
    expect(() => parseOverride('MAS_MODELS_YAML', registry(['m', 'missing']), modelsConfigSchema)).toThrow(
      /^MAS_MODELS_YAML: roles\.planning\.1: unknown model missing$/,
    );
    expect(parseOverride('MAS_MODELS_YAML', registry(['m']), modelsConfigSchema).roles.planning).toEqual([
      'm',
    ]);
  });
});
