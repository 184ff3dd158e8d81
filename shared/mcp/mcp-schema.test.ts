import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config/parse-config.ts';
import { gatewayToolName, splitToolName } from './config.ts';
import { mcpConfigSchema } from './mcp-schema.ts';
import { argumentProblem } from './validate.ts';

const parse = (text: string) => parseConfig('MAS_MCP_YAML', text, mcpConfigSchema);

describe('config/mcp.yaml schema', () => {
  it('accepts the minimal entry and fills the defaults', () => {
    const config = parse('servers: { files: { url: "https://files.example.com/mcp" } }');
    expect(config.wait_seconds).toBe(25);
    expect(config.servers.files).toMatchObject({
      url: 'https://files.example.com/mcp',
      transport: 'streamable_http',
      timeout_ms: 30_000,
      tools: {},
      ready_check: true,
    });
    expect(config.servers.files?.allow).toBeUndefined();
  });

  it.each([
    ['servers: { a__b: { url: "https://x.example/mcp" } }', /servers.a__b/],
    ['servers: { Files: { url: "https://x.example/mcp" } }', /servers.Files/],
    ['servers: { files: { url: "not a url" } }', /servers.files.url/],
    ['servers: { files: { url: "https://x.example/mcp", transport: websocket } }', /transport/],
    [
      'servers: { files: { url: "https://x.example/mcp", tools: { rm: { category: harmless } } } }',
      /tools.rm.category/,
    ],
    [
      'servers: { files: { url: "https://x.example/mcp", credential: { env: lower, header: authorization } } }',
      /credential.env/,
    ],
    ['servers: { files: { url: "https://x.example/mcp", allow: [] } }', /allow/],
    ['servers: { files: { url: "https://x.example/mcp", token: abc } }', /Unrecognized key/],
    ['wait_seconds: 999', /wait_seconds/],
  ])('refuses %s naming the key', (text, message) => {
    expect(() => parse(text)).toThrow(ConfigError);
    expect(() => parse(text)).toThrow(message);
  });

  it('gateway tool names split back into server and tool; a tool may contain "__" itself', () => {
    expect(gatewayToolName('files', 'read_file')).toBe('files__read_file');
    expect(splitToolName('files__read__all')).toEqual({ server: 'files', tool: 'read__all' });
    expect(splitToolName('read_file')).toBeUndefined();
    expect(splitToolName('__x')).toBeUndefined();
  });
});

describe('argument validation', () => {
  const tool = {
    name: 'transfer_funds',
    inputSchema: {
      type: 'object' as const,
      properties: {
        to: { type: 'string' },
        amount: { type: 'number', exclusiveMinimum: 0 },
        lines: {
          type: 'array',
          items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] },
        },
      },
      required: ['to', 'amount'],
    },
  };

  it('names the field at fault', () => {
    expect(argumentProblem(tool, { to: 'a', amount: 5 })).toBeNull();
    expect(argumentProblem(tool, { to: 'a', amount: 'lots' })?.field).toBe('amount');
    expect(argumentProblem(tool, { to: 'a', amount: -1 })?.field).toBe('amount');
    expect(argumentProblem(tool, { amount: 1 })?.field).toBe('to');
    expect(argumentProblem(tool, { to: 'a', amount: 1, lines: [{ sku: 'x' }, {}] })?.field).toBe(
      'lines[1].sku',
    );
  });
});
