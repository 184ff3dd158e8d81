/**
 * The bundled config files, validated when `config:compile` ran (wrangler runs it before every
 * dev and deploy): a bad file fails the build naming the key, so a broken deploy never starts.
 * Only data and types here: schemas and the YAML parser stay out of bundles that don't need them
 * (import them from their own modules).
 */
export { gatewayConfig, policy, policyVersion } from './compiled.ts';
export type { Category, Policy, PolicyGate } from './policy-schema.ts';
export type { GatewayConfig, ReadyCheckName } from './schema.ts';
