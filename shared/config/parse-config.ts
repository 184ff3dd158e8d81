// js-yaml's loader with the YAML 1.2 core schema (no timestamps, merge keys or custom tags: the
// same values as the `yaml` package gives). Build-time and Node-side only: config:compile, the
// launchers turning a YAML override into JSON (local/config-overrides.ts) and tests. No Worker
// bundle imports this module (js-yaml does not tree-shake: its loader alone is ~14 KiB gzip).
import { CORE_SCHEMA, load } from 'js-yaml';
import type { $ZodType, output } from 'zod/v4/core';
import { ConfigError, validateConfig } from './validate-config.ts';

export { ConfigError };

/** YAML text to plain data (an empty document is `{}`), naming `source` when it does not parse. */
export function parseYaml(source: string, text: string): unknown {
  try {
    return load(text, { schema: CORE_SCHEMA }) ?? {};
  } catch (err) {
    throw new ConfigError(`${source}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Parses YAML text and validates it, naming `file` and the dotted path of the first bad key. */
export function parseConfig<S extends $ZodType>(file: string, text: string, schema: S): output<S> {
  return validateConfig(file, parseYaml(file, text), schema);
}
