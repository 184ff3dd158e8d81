import type * as z from 'zod/mini';
import {
  describeIssues,
  ErrorCode,
  errorResponse,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RpcError,
  resultResponse,
} from './jsonrpc.ts';
import { isSupportedVersion, LATEST_PROTOCOL_VERSION, paramSchemas } from './protocol.ts';

/** One MCP method: the schema its params must match (else InvalidParams), and what answers it. */
export interface Method<S extends z.ZodMiniType = z.ZodMiniType> {
  params: S;
  handle(params: z.infer<S>): Promise<Record<string, unknown>>;
}

/** Pairs a params schema with its handler, so the handler's params are typed by the schema. */
export const method = <S extends z.ZodMiniType>(
  params: S,
  handle: (params: z.infer<S>) => Promise<Record<string, unknown>>,
): Method<S> => ({ params, handle });

export interface McpServerSpec {
  serverInfo: { name: string; version: string };
  capabilities: Record<string, unknown>;
  instructions?: string;
  /** Every method beyond the lifecycle's (initialize, ping), by name. */
  methods: Record<string, Method>;
  /** A handler threw something that is not an RpcError: logged there, answered -32603 here. */
  onUnexpected(err: unknown, method: string): void;
}

/**
 * The server side of MCP for one stateless exchange: requests in, responses out. Nothing is kept
 * between requests, so "initialized" is not enforced: a stateless Streamable HTTP server cannot
 * know whether this client initialized in an earlier POST (the SDK's stateless server does not
 * enforce it either). Notifications (initialized, cancelled, progress) need no answer and get none.
 */
export class McpServer {
  private readonly spec: McpServerSpec;
  constructor(spec: McpServerSpec) {
    this.spec = spec;
  }

  async answer(request: JsonRpcRequest): Promise<JsonRpcResponse> {
    try {
      return resultResponse(request.id, await this.run(request.method, request.params ?? {}));
    } catch (err) {
      if (err instanceof RpcError) return errorResponse(request.id, err.toJSON());
      this.spec.onUnexpected(err, request.method);
      return errorResponse(request.id, {
        code: ErrorCode.InternalError,
        message: 'The MCP gateway failed to handle this request.',
      });
    }
  }

  private run(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (name === 'initialize')
      return Promise.resolve(this.initialize(parse(paramSchemas().initialize, params)));
    if (name === 'ping') return Promise.resolve({});
    // Own properties only: a method named `constructor` or `__proto__` is not found, not run.
    const found = Object.hasOwn(this.spec.methods, name) ? this.spec.methods[name] : undefined;
    if (!found) throw new RpcError(ErrorCode.MethodNotFound, `Method not found: ${name.slice(0, 100)}`);
    return found.handle(parse(found.params, params));
  }

  /**
   * Version negotiation (MCP lifecycle): the client's revision when we speak it, else our
   * newest, which the client may then refuse.
   */
  private initialize(params: { protocolVersion: string }): Record<string, unknown> {
    return {
      protocolVersion: isSupportedVersion(params.protocolVersion)
        ? params.protocolVersion
        : LATEST_PROTOCOL_VERSION,
      capabilities: this.spec.capabilities,
      serverInfo: this.spec.serverInfo,
      ...(this.spec.instructions ? { instructions: this.spec.instructions } : {}),
    };
  }
}

function parse<S extends z.ZodMiniType>(schema: S, params: unknown): z.infer<S> {
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    throw new RpcError(ErrorCode.InvalidParams, `Invalid params: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}
