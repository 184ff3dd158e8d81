import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/config/parse-config.ts';
import { overrideJson } from './config-compile.ts';
import { overrideAsJson, overridesAsJson } from './config-overrides.ts';
import { workerSettings } from './worker-settings.ts';

describe('launchers hand the workers MAS_*_YAML as JSON', () => {
  it('YAML becomes one line of JSON with the YAML 1.2 core schema: no timestamps, no yes/no booleans, no merge keys', () => {
    const yaml = [
      'base: &base { a: 1 }',
      'merged: { <<: *base, b: 2 }',
      'when: 2024-01-01',
      'flag: yes',
      'octal: 0o17',
      'empty: ~',
      'text: "x\\ny"',
    ].join('\n');
    expect(JSON.parse(overrideAsJson('MAS_MODELS_YAML', yaml))).toEqual({
      base: { a: 1 },
      merged: { '<<': { a: 1 }, b: 2 },
      when: '2024-01-01',
      flag: 'yes',
      octal: 15,
      empty: null,
      text: 'x\ny',
    });
    expect(overrideAsJson('MAS_MODELS_YAML', yaml)).not.toContain('\n');
  });

  it('JSON passes byte for byte, and an empty value stays empty', () => {
    const json = '{ "servers": {\n  "files": { "url": "https://f.example/mcp" } } }';
    expect(overrideAsJson('MAS_MCP_YAML', json)).toBe(json);
    expect(overrideAsJson('MAS_MCP_YAML', '')).toBe('');
  });

  it('a custom tag or broken YAML is refused naming the variable', () => {
    expect(() => overrideAsJson('MAS_MCP_YAML', 'servers: !!js/regexp /x/')).toThrow(ConfigError);
    expect(() => overrideAsJson('MAS_MCP_YAML', 'servers: [1, 2')).toThrow(/^MAS_MCP_YAML: invalid YAML: /);
  });

  it('only the two overrides are converted; other values are left as they are', () => {
    expect(
      overridesAsJson({ MAS_MCP_YAML: 'servers: {}', MAS_MODELS_YAML: undefined, LLM_MODEL_FAST: 'a: b' }),
    ).toEqual({ MAS_MCP_YAML: '{"servers":{}}', MAS_MODELS_YAML: undefined, LLM_MODEL_FAST: 'a: b' });
  });

  it('npm start / npm run dev (workerSettings) convert a YAML override from .env', () => {
    const vars = workerSettings({ MAS_MODELS_YAML: 'roles: {}\n', MAS_MCP_YAML: '{"servers":{}}' }, {});
    expect(vars).toEqual({ MAS_MODELS_YAML: '{"roles":{}}', MAS_MCP_YAML: '{"servers":{}}' });
    expect(() => workerSettings({ MAS_MCP_YAML: 'a: [' }, {})).toThrow(/^MAS_MCP_YAML: invalid YAML/);
  });
});

describe('npm run config:compile -- --json <variable> [file]', () => {
  it('prints what the YAML says, validated, without the defaults filled in', () => {
    expect(overrideJson('MAS_MCP_YAML', 'servers: { files: { url: "https://f.example/mcp" } }')).toBe(
      '{"servers":{"files":{"url":"https://f.example/mcp"}}}',
    );
  });

  it('names the source and the bad key, with the zod message the worker would give', () => {
    expect(() => overrideJson('MAS_MCP_YAML', 'servers: { files: {} }', 'mcp.yaml')).toThrow(
      /^mcp\.yaml: servers\.files\.url: Invalid input: expected string, received undefined$/,
    );
    expect(() => overrideJson('MAS_OTHER_YAML', 'a: 1')).toThrow(
      /--json takes MAS_MODELS_YAML or MAS_MCP_YAML/,
    );
  });
});
