import * as z from 'zod/mini';

/**
 * JSON-RPC 2.0 framing as MCP uses it (https://www.jsonrpc.org/specification, MCP "Base
 * Protocol"): ids are strings or integers, never null; params, when present, are an object.
 * The gateway speaks it both ways: as a server to agents, as a client to upstream MCP servers.
 */
export const ErrorCode = {
  /** Not JSON at all. */
  ParseError: -32700,
  /** JSON, but not a JSON-RPC message (or an empty batch). */
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP's (and the SDK's) transport-level refusals: wrong method, Accept, size, version. */
  ConnectionClosed: -32000,
  /** MCP's: an upstream did not answer in time. */
  RequestTimeout: -32001,
} as const;

export type RequestId = string | number;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: RequestId;
  method: string;
  params?: Record<string, unknown> | undefined;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown> | undefined;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: RequestId; result: Record<string, unknown> }
  | { jsonrpc: '2.0'; id: RequestId | null; error: RpcErrorObject };

/** A JSON-RPC error to answer with: thrown by handlers, turned into the `error` member. */
export class RpcError extends Error {
  override name = 'RpcError';
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
  toJSON(): RpcErrorObject {
    return {
      code: this.code,
      message: this.message,
      ...(this.data !== undefined ? { data: this.data } : {}),
    };
  }
}

/** Built on first use: an isolate builds no schema at start. */
let schemas: ReturnType<typeof build> | undefined;
function build() {
  const id = z.union([z.string(), z.number().check(z.int())]);
  const params = z.optional(z.record(z.string(), z.unknown()));
  const errorObject = z.looseObject({
    code: z.number().check(z.int()),
    message: z.string(),
    data: z.optional(z.unknown()),
  });
  return {
    request: z.object({ jsonrpc: z.literal('2.0'), id, method: z.string(), params }),
    notification: z.object({ jsonrpc: z.literal('2.0'), method: z.string(), params }),
    response: z.union([
      z.object({ jsonrpc: z.literal('2.0'), id, result: z.record(z.string(), z.unknown()) }),
      z.object({ jsonrpc: z.literal('2.0'), id: z.nullable(id), error: errorObject }),
    ]),
  };
}

export type Incoming =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; message: JsonRpcResponse }
  | { kind: 'invalid' };

/**
 * What a parsed JSON value is as a JSON-RPC message. The member that is present decides which
 * shape it must have (`method` with or without `id`, else `result`/`error`), so an invalid
 * message is named invalid once rather than tried against every shape.
 */
export function classify(raw: unknown): Incoming {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { kind: 'invalid' };
  schemas ??= build();
  if ('method' in raw) {
    if ('id' in raw) {
      const parsed = schemas.request.safeParse(raw);
      return parsed.success ? { kind: 'request', message: parsed.data } : { kind: 'invalid' };
    }
    const parsed = schemas.notification.safeParse(raw);
    return parsed.success ? { kind: 'notification', message: parsed.data } : { kind: 'invalid' };
  }
  const parsed = schemas.response.safeParse(raw);
  return parsed.success ? { kind: 'response', message: parsed.data as JsonRpcResponse } : { kind: 'invalid' };
}

export const resultResponse = (id: RequestId, result: Record<string, unknown>): JsonRpcResponse => ({
  jsonrpc: '2.0',
  id,
  result,
});

export const errorResponse = (id: RequestId | null, error: RpcErrorObject): JsonRpcResponse => ({
  jsonrpc: '2.0',
  id,
  error,
});

/** A zod/mini issue list in a few words naming the field, for an InvalidParams message. */
export function describeIssues(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
