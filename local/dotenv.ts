import { existsSync } from 'node:fs';

/** Loads `.env` into process.env (values already set win), as wrangler and the Makefile do. */
export function loadDotEnv(path = '.env'): void {
  if (!existsSync(path)) return;
  const before = { ...process.env };
  process.loadEnvFile(path);
  for (const [key, value] of Object.entries(before)) process.env[key] = value;
}

/**
 * One value as `wrangler dev --env-file` reads it back byte for byte. Wrangler parses the file
 * with dotenv 16 and then dotenv-expand 12, and neither has a general escape:
 *  - dotenv keeps single-quoted and backtick-quoted text literally (newlines included) and only
 *    turns `\n` / `\r` into line breaks inside double quotes; a `\"` stays a backslash and a quote
 *    (JSON.stringify's `\"` is what mangled MAS_MODELS_YAML); a bare CR becomes LF everywhere;
 *  - dotenv-expand then expands `$NAME` / `${NAME}` in every value, whatever its quotes, and
 *    turns `\$` into `$`: so each `$` is written `\$`.
 * So: the first quote character the value does not contain, or double quotes (CR written `\r`)
 * when it holds all three. Undefined when no form can carry it (it holds `'`, a backtick, and a
 * `"` or a literal backslash-n/r; or it ends with a backslash, which would escape the closing
 * quote).
 */
export function quoteDotEnvValue(value: string): string | undefined {
  const v = value.replaceAll('$', '\\$');
  if (v.endsWith('\\')) return undefined;
  if (!v.includes('\r')) {
    if (!v.includes("'")) return `'${v}'`;
    if (!v.includes('`')) return `\`${v}\``;
  }
  if (!v.includes('"') && !/\\[nr]/.test(v)) return `"${v.replaceAll('\r', '\\r')}"`;
  return undefined;
}

/** A dotenv file of `vars` that wrangler reads back exactly; throws naming a value it cannot carry. */
export function formatDotEnv(vars: Record<string, string>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(vars)) {
    const quoted = quoteDotEnvValue(value);
    if (quoted === undefined) {
      throw new Error(
        `${key} cannot be written to wrangler's env file (it holds ', \` and " or a backslash-n/r, or ends with a backslash); ` +
          '`npm start` passes any value as it is',
      );
    }
    lines.push(`${key}=${quoted}`);
  }
  return `${lines.join('\n')}\n`;
}
