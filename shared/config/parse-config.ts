// js-yaml's loader with the YAML 1.2 core schema (no timestamps, merge keys or custom tags: the
// same values as the `yaml` package gives): a third of its size in the bundles that parse the
// MAS_MODELS_YAML / MAS_MCP_YAML overrides.
import { CORE_SCHEMA, load } from 'js-yaml';
import { type $ZodType, type output, safeParse } from 'zod/v4/core';
import '../errors/zod-english.ts';

/** A config file that does not parse or validate; the message names the file and the bad key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses YAML text and validates it, naming `file` and the dotted path of the first bad key. */
export function parseConfig<S extends $ZodType>(file: string, text: string, schema: S): output<S> {
  let raw: unknown;
  try {
    raw = load(text, { schema: CORE_SCHEMA }) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  // Core's safeParse: classic and zod/mini schemas alike.
  const result = safeParse(schema, raw);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`${file}: ${issues.join('; ')}`);
  }
  return result.data;
}
