export { luhnValid } from './redact-rules.ts';
export {
  isSensitiveKey,
  type RedactOptions,
  type RedactResult,
  redactSecrets,
  redactString,
} from './redact-secrets.ts';
