import gatewayYaml from '../../config/gateway.yaml';
import { parseConfig } from './parse-config.ts';
import { type GatewayConfig, gatewayConfigSchema } from './schema.ts';

export { ConfigError, parseConfig } from './parse-config.ts';
export type { GatewayConfig, ReadyCheckName } from './schema.ts';
export { gatewayConfigSchema } from './schema.ts';

/**
 * The bundled `config/gateway.yaml`, validated at isolate start (module evaluation): a bad file
 * throws a ConfigError naming the key, so a broken deploy fails to start instead of misbehaving.
 */
export const gatewayConfig: GatewayConfig = parseConfig(
  'config/gateway.yaml',
  gatewayYaml,
  gatewayConfigSchema,
);
