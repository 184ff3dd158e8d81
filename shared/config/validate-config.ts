import { type $ZodType, type output, safeParse } from 'zod/v4/core';
import '../errors/zod-english.ts';

/** A config file or override that does not parse or validate; the message names it and the bad key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates already-parsed config data against its schema, naming `source` (a file or an env
 * variable) and the dotted path of the first bad keys. No parser here: the YAML side
 * (parse-config.ts) and the Workers' JSON side (override.ts) share this.
 */
export function validateConfig<S extends $ZodType>(source: string, raw: unknown, schema: S): output<S> {
  // Core's safeParse: classic and zod/mini schemas alike.
  const result = safeParse(schema, raw);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`${source}: ${issues.join('; ')}`);
  }
  return result.data;
}
