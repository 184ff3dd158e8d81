/**
 * The launchers' half of the overrides' JSON contract (shared/config/override.ts): Workers read
 * MAS_MODELS_YAML / MAS_MCP_YAML as JSON and carry no YAML parser, so whatever starts workers from
 * Node (npm start and npm run dev through local/worker-settings.ts, the tests' wrangler dev and
 * workerd helpers, the bench) converts a YAML value first, with the YAML 1.2 core schema that
 * config:compile reads config/*.yaml with. YAML written in .env keeps working locally.
 * No node: imports: the workers tests load this inside workerd.
 */
import { parseYaml } from '../shared/config/parse-config.ts';

export const OVERRIDE_VARIABLES = ['MAS_MODELS_YAML', 'MAS_MCP_YAML'] as const;

/**
 * The override as the Workers read it: JSON as it is (the same value under both parsers), YAML as
 * one line of JSON. Throws a ConfigError naming the variable when the text is not YAML either;
 * the schema is the Worker's to check, which names the bad key.
 */
export function overrideAsJson(variable: string, text: string): string {
  if (!text.trim()) return text;
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(parseYaml(variable, text));
  }
}

/** `vars` with each YAML override replaced by its JSON; everything else as it is. */
export function overridesAsJson<T extends Record<string, string | undefined>>(vars: T): T {
  const out: Record<string, string | undefined> = { ...vars };
  for (const variable of OVERRIDE_VARIABLES) {
    const value = out[variable];
    if (typeof value === 'string') out[variable] = overrideAsJson(variable, value);
  }
  return out as T;
}
