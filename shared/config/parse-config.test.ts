import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPILED_PATH, compileConfig } from '../../local/config-compile.ts';
import { ConfigError, parseConfig } from './parse-config.ts';
import { gatewayConfigSchema } from './schema.ts';

describe('config validation', () => {
  it('accepts the shipped config/gateway.yaml', () => {
    const config = parseConfig(
      'config/gateway.yaml',
      readFileSync('config/gateway.yaml', 'utf8'),
      gatewayConfigSchema,
    );
    expect(config.http.max_body_bytes.chat).toBe(1_048_576);
    expect(config.ready.required).toContain('postgres');
  });

  it('names the file and the dotted path of a bad key', () => {
    const text = 'rate_limit:\n  requests: -5\n  window_seconds: 60\n';
    expect(() => parseConfig('config/gateway.yaml', text, gatewayConfigSchema)).toThrow(
      /^config\/gateway\.yaml: rate_limit\.requests: /,
    );
  });

  it('refuses unknown keys (a typo must not be ignored)', () => {
    expect(() =>
      parseConfig('g.yaml', 'ready:\n  timeout_ms: 100\n  required: []\n  timeout: 5\n', gatewayConfigSchema),
    ).toThrow(ConfigError);
  });

  it('reports invalid YAML with the file name', () => {
    expect(() => parseConfig('g.yaml', 'a: [1, 2', gatewayConfigSchema)).toThrow(/^g\.yaml: invalid YAML/);
  });

  it('fills defaults for an empty file', () => {
    expect(parseConfig('g.yaml', '', gatewayConfigSchema).rate_limit.requests).toBe(600);
  });
});

describe('compiled config', () => {
  it('shared/config/compiled.ts matches config/*.yaml (run npm run config:compile)', () => {
    expect(readFileSync(COMPILED_PATH, 'utf8')).toBe(compileConfig());
  });

  it('names the file and key when a config file is invalid', () => {
    const root = mkdtempSync(join(tmpdir(), 'mas-config-'));
    mkdirSync(join(root, 'config'));
    for (const f of ['gateway', 'policies', 'models', 'integrations']) {
      copyFileSync(`config/${f}.yaml`, join(root, 'config', `${f}.yaml`));
    }
    writeFileSync(join(root, 'config/gateway.yaml'), 'ready:\n  timeout_ms: -5\n');
    expect(() => compileConfig(root)).toThrow(/^config\/gateway\.yaml: ready\.timeout_ms/);
  });
});
