import { existsSync } from 'node:fs';

/** Loads `.env` into process.env (values already set win), as wrangler and the Makefile do. */
export function loadDotEnv(path = '.env'): void {
  if (!existsSync(path)) return;
  const before = { ...process.env };
  process.loadEnvFile(path);
  for (const [key, value] of Object.entries(before)) process.env[key] = value;
}
