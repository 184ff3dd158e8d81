import { Validator } from '@cfworker/json-schema';
import type { Tool } from './protocol.ts';

const validators = new WeakMap<object, Validator>();

/**
 * Checks tool arguments against the tool's input schema (JSON Schema, as the upstream declared
 * it), with a validator that interprets schemas instead of generating code (Workers forbid
 * `new Function`). Returns the first problem as the field's JSON pointer and a message, or null.
 */
export function argumentProblem(tool: Tool, args: unknown): { field: string; message: string } | null {
  let validator = validators.get(tool.inputSchema);
  if (!validator) {
    validator = new Validator(tool.inputSchema as never, draftOf(tool.inputSchema.$schema), false);
    validators.set(tool.inputSchema, validator);
  }
  const result = validator.validate(args ?? {});
  if (result.valid) return null;
  // The innermost error names the field; the outer ones only say "properties did not match".
  const errors = result.errors;
  const leaf =
    errors.find((e) => !/^(properties|allOf|anyOf|oneOf|\$ref|items|prefixItems)$/.test(e.keyword)) ??
    errors[0];
  const field = pointerToPath(leaf?.instanceLocation ?? '#');
  const missing = leaf?.keyword === 'required' ? /"([^"]+)"/.exec(leaf.error)?.[1] : undefined;
  return {
    field: missing ? (field ? `${field}.${missing}` : missing) : field || '(arguments)',
    message: leaf?.error ?? 'does not match the input schema',
  };
}

/** `#/a/0/b` → `a[0].b` */
function pointerToPath(pointer: string): string {
  const parts = pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The JSON Schema draft a schema declares (the SDK's zod conversion says draft-07); default 2020-12. */
function draftOf(uri: unknown): '4' | '7' | '2019-09' | '2020-12' {
  const text = typeof uri === 'string' ? uri : '';
  if (text.includes('draft-04')) return '4';
  if (text.includes('draft-07') || text.includes('draft-06')) return '7';
  if (text.includes('2019-09')) return '2019-09';
  return '2020-12';
}
