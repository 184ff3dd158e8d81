import { bundledMcp, bundledModels, integrationsConfig } from '../shared/config/compiled.ts';
import { overridesAsJson } from './config-overrides.ts';

/**
 * What `npm start` / `npm run dev` hand the functions from the environment (and .env): every
 * setting shared/env.ts reads, the provider/integration families, and every variable the bundled
 * config names (`api_key_env`, `base_url_env`, `url_env`...), so a setting a user exported is not
 * silently dropped on its way to the worker.
 */
const PASS_THROUGH =
  /^(LLM_|MAS_|QDRANT_|OPENAI_|GOOGLE_|GEMINI_|ANTHROPIC_|MINDEX_|NATUREOS_|WEBSITE_|APPROVAL_|LEDGER_|RATE_LIMIT_|LOG_LEVEL$|ACTION_AUDIT_ENABLED$|EXPOSE_METRICS$|CORS_ORIGINS$|RESPONSES_RETENTION_DAYS$)/;

/** Env var names the bundled config refers to (values of keys ending in `_env`). */
export function configEnvNames(
  config: unknown = [bundledModels, integrationsConfig, bundledMcp],
): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown) => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key.endsWith('_env') && typeof value === 'string') names.add(value);
        else walk(value);
      }
    }
  };
  walk(config);
  return names;
}

/**
 * The functions' settings: the passed-through environment, `defaults` under it, and the local
 * stack's settings (DATABASE_URL, Redis, Pushgateway...) over it. A YAML MAS_MODELS_YAML or
 * MAS_MCP_YAML becomes JSON, the form Workers read (throws a ConfigError when it is not YAML).
 */
export function workerSettings(
  env: NodeJS.ProcessEnv,
  stackSettings: Record<string, string>,
  defaults: Record<string, string> = {},
): Record<string, string> {
  const named = configEnvNames();
  const vars: Record<string, string> = { ...defaults };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (PASS_THROUGH.test(key) || named.has(key))) vars[key] = value;
  }
  return overridesAsJson(Object.assign(vars, stackSettings));
}
