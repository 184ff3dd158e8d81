import { integrationsConfig } from '../config/compiled.ts';
import type { Env } from '../env.ts';
import { IntegrationClient } from './client.ts';
import type { IntegrationConfig } from './integrations-schema.ts';

/** The bundled `config/integrations.yaml`, validated at build time (local/config-compile.ts). */
export { integrationsConfig };

export function integrationNamed(name: string): IntegrationConfig | undefined {
  return Object.hasOwn(integrationsConfig.integrations, name)
    ? integrationsConfig.integrations[name]
    : undefined;
}

/** A client for one integration with its base URL (env-overridable) and its credential injected. */
export function clientFor(name: string, config: IntegrationConfig, env: Env): IntegrationClient {
  const override = config.base_url_env ? env[config.base_url_env] : undefined;
  const headers: Record<string, string> = {};
  const credential = config.credential ? env[config.credential.env] : undefined;
  if (config.credential && typeof credential === 'string' && credential) {
    headers[config.credential.header] = config.credential.scheme
      ? `${config.credential.scheme} ${credential}`
      : credential;
  }
  return new IntegrationClient({
    name,
    baseURL: typeof override === 'string' && override ? override : config.base_url,
    headers,
    timeoutMs: config.timeout_ms,
    maxResponseBytes: config.max_response_bytes,
    retry: config.retry,
  });
}
