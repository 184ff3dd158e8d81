import { createHash } from 'node:crypto';
import gatewayYaml from '../../config/gateway.yaml';
import policiesYaml from '../../config/policies.yaml';
import { parseConfig } from './parse-config.ts';
import { type Policy, policySchema } from './policy-schema.ts';
import { type GatewayConfig, gatewayConfigSchema } from './schema.ts';

export { ConfigError, parseConfig } from './parse-config.ts';
export type { Category, Policy, PolicyGate } from './policy-schema.ts';
export { categorySchema, policySchema } from './policy-schema.ts';
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

/** The bundled `config/policies.yaml`, validated at isolate start. */
export const policy: Policy = parseConfig('config/policies.yaml', policiesYaml, policySchema);

/** Stored on every ledger row: which policy file decided. First 16 hex of its SHA-256. */
export const policyVersion: string = createHash('sha256').update(policiesYaml).digest('hex').slice(0, 16);
