import { AppError } from '../errors/index.ts';
import { readBounded } from '../middleware/json-body/index.ts';
import { IntegrationError } from './client.ts';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i;

const tooLarge = (name: string, max: number) =>
  new IntegrationError(
    name,
    'too_large',
    `${name} answered with more than ${max} bytes (max_response_bytes).`,
  );

/**
 * The body of an integration's answer, bounded to `max` bytes, decided before the first byte
 * goes to the caller wherever that can be known:
 * - a Content-Length over `max`: IntegrationError `too_large` (the route's clean 502);
 * - JSON of unknown length: read whole up to `max` (a truncated JSON document is useless), then
 *   `too_large` past it;
 * - anything else of unknown length (a download, a stream): passed through as it arrives, and
 *   past `max` the stream errors, so the caller sees a broken body, never a clean short one.
 * `streamed` says which, so the route can announce the cap on a streamed answer.
 */
export async function boundedBody(
  name: string,
  response: Response,
  max: number,
): Promise<{ body: ReadableStream<Uint8Array> | Uint8Array | null; streamed: boolean }> {
  // No body (HEAD, 204, 304): its Content-Length describes a body that is not coming.
  if (!response.body) return { body: null, streamed: false };
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await response.body.cancel().catch(() => undefined);
    throw tooLarge(name, max);
  }
  if (declared === null && JSON_TYPE.test(response.headers.get('content-type') ?? '')) {
    return { body: await readBoundedResponse(name, response, max), streamed: false };
  }
  // A declared length within `max` is also held to it: a decompressed body can be longer.
  return { body: limitStream(name, response.body, max), streamed: declared === null };
}

/** The whole body, or IntegrationError `too_large` as soon as it passes `max` bytes. */
export async function readBoundedResponse(
  name: string,
  response: Response,
  max: number,
): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(name, max);
  }
  try {
    return await readBounded(response.body, max);
  } catch (err) {
    // readBounded's 413 is about a request body; here the upstream sent too much.
    if (err instanceof AppError && err.status === 413) throw tooLarge(name, max);
    throw err;
  }
}

function limitStream(
  name: string,
  body: ReadableStream<Uint8Array>,
  max: number,
): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) {
          controller.error(
            new Error(`${name}'s answer passed max_response_bytes (${max}); the rest was not sent`),
          );
        } else controller.enqueue(chunk);
      },
    }),
  );
}
