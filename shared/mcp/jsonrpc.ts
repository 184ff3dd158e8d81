import type * as z from 'zod/mini';

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

export type Incoming =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; message: JsonRpcResponse }
  | { kind: 'invalid' };

const INVALID: Incoming = { kind: 'invalid' };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is RequestId => typeof v === 'string' || Number.isInteger(v);

/**
 * What a parsed JSON value is as a JSON-RPC message. The envelope is checked by hand, not by a
 * schema: it is four members, every message in both directions passes through it, and a zod
 * union of its shapes cost more per message and in every bundle than these lines (the params and
 * results inside are zod/mini, protocol.ts). The member that is present decides which shape it
 * must have (`method` with or without `id`, else `result`/`error`).
 */
export function classify(raw: unknown): Incoming {
  if (!isObject(raw) || raw.jsonrpc !== '2.0') return INVALID;
  if ('method' in raw) {
    const { method, params } = raw;
    if (typeof method !== 'string' || (params !== undefined && !isObject(params))) return INVALID;
    const rest = params === undefined ? {} : { params };
    if (!('id' in raw)) return { kind: 'notification', message: { jsonrpc: '2.0', method, ...rest } };
    return isId(raw.id)
      ? { kind: 'request', message: { jsonrpc: '2.0', id: raw.id, method, ...rest } }
      : INVALID;
  }
  const response = asResponse(raw);
  return response ? { kind: 'response', message: response } : INVALID;
}

/** `raw` when it is a JSON-RPC response: a result object, or an error with an integer code and a message. */
export function asResponse(raw: unknown): JsonRpcResponse | undefined {
  if (!isObject(raw) || raw.jsonrpc !== '2.0') return undefined;
  const { id, result, error } = raw;
  if (isId(id) && isObject(result)) return { jsonrpc: '2.0', id, result };
  if (
    (isId(id) || id === null) &&
    isObject(error) &&
    Number.isInteger(error.code) &&
    typeof error.message === 'string'
  ) {
    return { jsonrpc: '2.0', id, error: error as unknown as RpcErrorObject };
  }
  return undefined;
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
