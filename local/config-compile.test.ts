import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileConfig } from './config-compile.ts';

// `npm run config:check` compiles config/actions.yaml's input schemas strictly: a registry entry
// whose schema is not valid JSON Schema fails the build, naming the entry.
describe('config:check on the action registry', () => {
  let root = '';
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function withRegistry(extra: string): string {
    root = mkdtempSync(join(tmpdir(), 'mas-config-'));
    cpSync('config', join(root, 'config'), { recursive: true });
    const file = join(root, 'config/actions.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^tools:\n/m, `tools:\n${extra}`));
    return root;
  }

  it('compiles the shipped registry', () => {
    expect(compileConfig('.')).toContain('export const actionRegistry');
  });

  it.each([
    [
      'a misspelt keyword',
      '  bad.tool:\n    category: read\n    input_schema: { type: object, requried: [q] }\n',
    ],
    ['an unknown type', '  bad.tool:\n    category: read\n    input_schema: { type: objekt }\n'],
    [
      'a pattern that is not a regex',
      "  bad.tool:\n    category: read\n    input_schema: { type: string, pattern: '(' }\n",
    ],
  ])('fails on %s, naming the entry', (_, entry) => {
    expect(() => compileConfig(withRegistry(entry))).toThrow(
      /config\/actions\.yaml: tools\.bad\.tool\.input_schema/,
    );
  });

  it('fails on a category that is not one of the six', () => {
    expect(() => compileConfig(withRegistry('  bad.tool:\n    category: harmless\n'))).toThrow(
      /config\/actions\.yaml: tools\.bad\.tool\.category/,
    );
  });

  it('fails on routes of an integration that does not exist', () => {
    root = mkdtempSync(join(tmpdir(), 'mas-config-'));
    cpSync('config', join(root, 'config'), { recursive: true });
    const file = join(root, 'config/actions.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        /^integrations:\n/m,
        'integrations:\n  nowhere:\n    - { methods: [POST], prefix: /x/, category: read }\n',
      ),
    );
    expect(() => compileConfig(root)).toThrow(/integrations\.nowhere: no such integration/);
  });

  it('the policy version covers the registry', () => {
    const version = (text: string) => /policyVersion = '([0-9a-f]{16})'/.exec(text)?.[1];
    const shipped = version(compileConfig('.'));
    expect(version(compileConfig(withRegistry('  new.tool: { category: read }\n')))).not.toBe(shipped);
  });
});
