import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config/parse-config.ts';
import { gatewayToolName, splitToolName } from './config.ts';
import { builtMcpConfigSchema, mcpConfigSchema } from './mcp-schema.ts';
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

/** A deterministic generator of config/mcp.yaml-like values, valid and (mostly) not. */
function mutatedMcpConfigs(count: number, seed = 1): unknown[] {
  let state = seed >>> 0;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const VALUES: unknown[] = [
    null,
    undefined,
    true,
    false,
    0,
    -1,
    1.5,
    25,
    120,
    121,
    86_400,
    300_000,
    300_001,
    Number.NaN,
    '',
    'x',
    '25',
    'https://files.example.com/mcp',
    'not a url',
    'FILES_MCP_URL',
    'lower_case',
    'authorization',
    'Bearer',
    'streamable_http',
    'sse',
    'websocket',
    'read',
    'destructive',
    'harmless',
    [],
    ['read_file'],
    [''],
    {},
    { category: 'read' },
    { category: 'destructive', risk: 'r'.repeat(501) },
    { env: 'TOKEN', header: 'authorization', scheme: 'Bearer' },
    { env: 'token', header: 'Authorization' },
  ];
  const NAMES = ['files', 'a__b', 'Files', 'x-y', 'a_b_c', '_x', 'f'.repeat(49), 'f'.repeat(48), '9x', 'db'];
  const KEYS = [
    'url',
    'url_env',
    'transport',
    'credential',
    'timeout_ms',
    'allow',
    'tools',
    'ready_check',
    'wait_seconds',
    'replay_window_seconds',
    'tools_cache_seconds',
    'servers',
    'extra',
    'env',
    'header',
    'scheme',
    'category',
    'risk',
  ];
  const base = () => ({
    wait_seconds: 25,
    replay_window_seconds: 60,
    tools_cache_seconds: 60,
    servers: {
      files: {
        url: 'https://files.example.com/mcp',
        url_env: 'FILES_MCP_URL',
        transport: 'streamable_http',
        credential: { env: 'FILES_MCP_TOKEN', header: 'authorization', scheme: 'Bearer' },
        timeout_ms: 30_000,
        allow: ['read_file', 'delete_file'],
        tools: { read_file: { category: 'read' }, delete_file: { category: 'destructive', risk: 'Gone.' } },
      },
      db: { url: 'https://db.example.com/mcp', transport: 'sse', ready_check: false },
    },
  });
  const objects = (value: unknown, out: Array<Record<string, unknown>> = []) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      out.push(value as Record<string, unknown>);
      for (const v of Object.values(value)) objects(v, out);
    }
    return out;
  };
  const result: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const config: Record<string, unknown> = rand() < 0.05 ? {} : base();
    for (let m = Math.floor(rand() * 4); m > 0; m--) {
      const target = pick(objects(config));
      const keys = Object.keys(target);
      const op = rand();
      if (op < 0.35 && keys.length) target[pick(keys)] = structuredClone(pick(VALUES));
      else if (op < 0.55 && keys.length) delete target[pick(keys)];
      else if (op < 0.7) target[pick(KEYS)] = structuredClone(pick(VALUES));
      else if (op < 0.85 && keys.length) {
        const key = pick(keys);
        target[pick(NAMES)] = target[key];
        delete target[key];
      } else if (keys.length) {
        const key = pick(keys);
        target[key] = rand() < 0.5 ? [target[key]] : JSON.stringify(target[key] ?? null);
      }
    }
    result.push(rand() < 0.02 ? pick(VALUES) : config);
  }
  return result;
}

describe('builtMcpConfigSchema (config.ts parses the MAS_MCP_YAML override with it)', () => {
  // MUTATED_CASES=100000 for a longer run (session 9: 100,000 cases, all the same).
  const cases = Number(process.env.MUTATED_CASES ?? 10_000);
  it(`parses as mcpConfigSchema does on ${cases} mutated configs: same data, or the same issues`, () => {
    const inputs = mutatedMcpConfigs(cases);
    let valid = 0;
    for (const input of inputs) {
      const viaLazy = mcpConfigSchema.safeParse(structuredClone(input));
      const built = builtMcpConfigSchema().safeParse(structuredClone(input));
      expect(built.success).toBe(viaLazy.success);
      if (viaLazy.success) {
        valid++;
        expect(built.data).toEqual(viaLazy.data);
      } else expect(built.error?.issues).toEqual(viaLazy.error?.issues);
    }
    // Both outcomes are exercised, not only refusals.
    expect(valid).toBeGreaterThan(cases / 20);
    expect(valid).toBeLessThan(cases * 0.95);
  });
});
