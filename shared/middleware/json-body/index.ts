import type { Context } from 'hono';
import { type $ZodType, type output, parse } from 'zod/v4/core';
import { gatewayConfig } from '../../config/index.ts';
import { badRequest, payloadTooLarge, unsupportedMediaType } from '../../errors/index.ts';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i;

/** The body limit for a function, from `config/gateway.yaml`. */
export function maxBodyBytes(functionName: string): number {
  const limits = gatewayConfig.http.max_body_bytes;
  return limits[functionName] ?? limits.default;
}

/**
 * Reads, bounds, decodes and validates a JSON body: 415 for another content type, 413 past the
 * limit (counted while streaming, so a lying Content-Length does not help), 400 for invalid
 * UTF-8 or malformed JSON, and a ZodError (400 with `param`) for a body of the wrong shape.
 */
export async function readJson<S extends $ZodType>(
  c: Context,
  schema: S,
  maxBytes: number,
): Promise<output<S>> {
  if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) throw unsupportedMediaType();
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw payloadTooLarge(maxBytes);
  const bytes = await readBounded(c.req.raw.body, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest('Request body is not valid UTF-8.', null, 'invalid_encoding');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badRequest('Request body is not valid JSON.', null, 'invalid_json');
  }
  // Core's parse takes classic and zod/mini schemas alike.
  return parse(schema, raw);
}

/** Reads a body, failing with 413 as soon as it passes `maxBytes`. */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
