import { AppError } from '../errors/index.ts';
import { readBounded } from '../middleware/json-body/index.ts';
import {
  classify,
  ErrorCode,
  errorResponse,
  type Incoming,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.ts';
import { accepts, mediaType } from './media-type.ts';
import { isSupportedVersion, SUPPORTED_PROTOCOL_VERSIONS } from './protocol.ts';
import type { McpServer } from './server.ts';

/** The SDK's bound on one batch; a batch is parsed whole before anything runs. */
const MAX_BATCH = 100;

/**
 * A Streamable HTTP POST (MCP "Transports"), stateless: the body's requests are answered in this
 * response and nothing is kept, so no Mcp-Session-Id is issued and GET/DELETE are the route's
 * 405. The answer is JSON when the client accepts it (what the SDK server did with
 * `enableJsonResponse`), an event stream when it accepts only that. Refusals before any message
 * runs are HTTP errors with a JSON-RPC error body and a null id, as the SDK's transport answered.
 */
export async function handleStreamableHttpPost(
  req: Request,
  server: McpServer,
  options: { maxBodyBytes: number },
): Promise<Response> {
  const accept = req.headers.get('accept');
  const answerAs = accepts(accept, 'application/json')
    ? 'json'
    : accepts(accept, 'text/event-stream')
      ? 'sse'
      : undefined;
  if (!answerAs) {
    return refusal(
      406,
      ErrorCode.ConnectionClosed,
      'Not Acceptable: accept application/json or text/event-stream',
    );
  }
  if (mediaType(req.headers.get('content-type')) !== 'application/json') {
    return refusal(
      415,
      ErrorCode.ConnectionClosed,
      'Unsupported Media Type: Content-Type must be application/json',
    );
  }

  const body = await readBody(req, options.maxBodyBytes);
  if (body instanceof Response) return body;
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return refusal(400, ErrorCode.ParseError, 'Parse error: Invalid JSON');
  }

  const batch = Array.isArray(raw);
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0 || items.length > MAX_BATCH) {
    return refusal(
      400,
      ErrorCode.InvalidRequest,
      `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages`,
    );
  }
  const messages = items.map(classify);
  // One bad message alone is the request's fault; in a batch it gets its own error (JSON-RPC 2.0).
  if (!batch && messages[0]!.kind === 'invalid') {
    return refusal(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
  }
  const initializing = messages.some(isInitialize);
  if (initializing && messages.length > 1) {
    return refusal(
      400,
      ErrorCode.InvalidRequest,
      'Invalid Request: Only one initialization request is allowed',
    );
  }
  // After initialize, clients send the negotiated revision; one we do not speak is refused.
  const version = req.headers.get('mcp-protocol-version');
  if (!initializing && version !== null && !isSupportedVersion(version)) {
    return refusal(
      400,
      ErrorCode.ConnectionClosed,
      `Bad Request: Unsupported protocol version: ${version.slice(0, 40)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    );
  }

  const invalid = messages.filter((m) => m.kind === 'invalid').length;
  const requests = messages.flatMap((m) => (m.kind === 'request' ? [m.message] : []));
  // Notifications and responses (to requests we never send) are accepted and need no answer.
  if (requests.length === 0 && invalid === 0) return new Response(null, { status: 202 });

  const invalidAnswer = errorResponse(null, { code: ErrorCode.InvalidRequest, message: 'Invalid Request' });
  const pending = [
    ...requests.map((r) => server.answer(r)),
    ...Array.from({ length: invalid }, () => Promise.resolve(invalidAnswer)),
  ];
  if (answerAs === 'sse') return eventStream(pending);
  const answers = await Promise.all(pending);
  return Response.json(batch ? answers : answers[0]);
}

const isInitialize = (m: Incoming): m is { kind: 'request'; message: JsonRpcRequest } =>
  m.kind === 'request' && m.message.method === 'initialize';

/** Each answer as one `message` event the moment it is ready; the stream ends with the last. */
function eventStream(pending: Promise<JsonRpcResponse>[]): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      await Promise.all(
        pending.map((p) =>
          p.then((answer) =>
            controller.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(answer)}\n\n`)),
          ),
        ),
      );
      controller.close();
    },
  });
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' },
  });
}

async function readBody(req: Request, maxBytes: number): Promise<string | Response> {
  const tooLarge = () =>
    refusal(
      413,
      ErrorCode.ConnectionClosed,
      `Payload Too Large: Request body must not exceed ${maxBytes} bytes`,
    );
  if (Number(req.headers.get('content-length') ?? Number.NaN) > maxBytes) return tooLarge();
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(req.body, maxBytes);
  } catch (err) {
    if (err instanceof AppError && err.status === 413) return tooLarge();
    throw err;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return refusal(400, ErrorCode.ParseError, 'Parse error: the body is not valid UTF-8');
  }
}

function refusal(status: number, code: number, message: string): Response {
  return Response.json(errorResponse(null, { code, message }), { status });
}
