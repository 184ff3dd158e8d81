import { type Unstable_DevWorker, unstable_dev } from 'wrangler';
import { overridesAsJson } from '../../local/config-overrides.ts';

/**
 * Runs one deployment of wrangler.toml under `wrangler dev` (Miniflare/workerd), as users and
 * `npm start` do, with the given settings as vars (a YAML MAS_MODELS_YAML / MAS_MCP_YAML as the
 * JSON workers read, as npm start converts it), on a free port.
 */
export function startDevWorker(
  env: string | undefined,
  vars: Record<string, string>,
): Promise<Unstable_DevWorker> {
  return unstable_dev(env ? `functions/${env}/index.ts` : 'functions/index.ts', {
    config: 'wrangler.toml',
    env,
    vars: overridesAsJson(vars),
    ip: '127.0.0.1',
    port: 0,
    logLevel: (process.env.MAS_DEV_LOG_LEVEL as 'error' | 'log' | undefined) ?? 'error',
    persist: false,
    experimental: {
      disableExperimentalWarning: true,
      disableDevRegistry: true,
      showInteractiveDevSession: false,
    },
  });
}
