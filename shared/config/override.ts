/**
 * The Workers' side of the MAS_MODELS_YAML / MAS_MCP_YAML overrides: the value is read as JSON,
 * YAML's JSON subset, so an override written as JSON means what it meant under the YAML parser,
 * and no function bundle carries one (js-yaml was ~14 KiB gzip of ready, chat, messages, embed
 * and mcp). YAML text gets an answer saying how to convert it; npm start, npm run dev, the bench
 * and the tests convert a YAML value before the workers see it (local/config-overrides.ts).
 */
import type { $ZodType, output } from 'zod/v4/core';
import { AppError } from '../errors/app-error.ts';
import { ConfigError, validateConfig } from './validate-config.ts';

/**
 * Parses and validates an override; a bad one is a 500 `invalid_configuration` whose message
 * names the variable and the key (or says it is not JSON), as LLM_TIMEOUT_MS's is: a deployment
 * error the operator must see, which no caller can fix. The message never quotes the value.
 */
export function parseOverride<S extends $ZodType>(variable: string, text: string, schema: S): output<S> {
  const key = `${variable}\n${text}`;
  let config = parsed.get(key) as output<S> | undefined;
  if (config === undefined) {
    config = parse(variable, text, schema);
    parsed.set(key, config);
  }
  return config;
}

/**
 * Each override text is parsed and validated once per isolate, however many env objects carry it
 * (a bad one is refused again each time it is read).
 */
const parsed = new Map<string, unknown>();

function parse<S extends $ZodType>(variable: string, text: string, schema: S): output<S> {
  let raw: unknown = {};
  if (text.trim()) {
    try {
      // `null` is an empty document, as it was in YAML.
      raw = JSON.parse(text) ?? {};
    } catch (err) {
      throw invalid(notJson(variable, text, err as Error));
    }
  }
  try {
    return validateConfig(variable, raw, schema);
  } catch (err) {
    throw err instanceof ConfigError ? invalid(err.message, err) : err;
  }
}

function invalid(message: string, cause?: unknown): AppError {
  return new AppError(500, 'invalid_configuration', message, { cause });
}

/**
 * What to do about a value that is not JSON. JSON.parse's own message quotes the text, so only
 * the position is kept from it.
 */
function notJson(variable: string, text: string, err: Error): string {
  const position = /at position (\d+)/.exec(err.message);
  let where = '';
  if (position) {
    const before = text.slice(0, Number(position[1])).split('\n');
    where = ` (line ${before.length}, column ${before.at(-1)!.length + 1})`;
  }
  return (
    `${variable}: not JSON${where}. Workers read this override as JSON and carry no YAML parser: ` +
    `convert YAML with \`npm run -s config:compile -- --json ${variable} <file.yaml>\` and set ` +
    'the line it prints (npm start and npm run dev convert a YAML value in .env themselves).'
  );
}
