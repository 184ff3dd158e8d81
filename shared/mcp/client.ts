import type * as z from 'zod/mini';
import { VERSION } from '../version.ts';
import { StreamableHttpTransport } from './client-http.ts';
import { LegacySseTransport } from './client-sse.ts';
import type { ClientTransport, Link } from './client-transport.ts';
import type { RequestId } from './jsonrpc.ts';
import {
  initializeResultSchema,
  isSupportedVersion,
  LATEST_PROTOCOL_VERSION,
  type ServerCapabilities,
} from './protocol.ts';

type Params = Record<string, unknown>;

/** What an initialize settled: all a later exchange needs, when the server keeps no session. */
export interface Handshake {
  protocolVersion: string;
  capabilities: ServerCapabilities;
}

/**
 * The client side of MCP towards one upstream, for one exchange: the initialize handshake, then
 * requests whose results are checked against minimal schemas. Timeouts and cancellation are the
 * link's signal (one deadline for the whole exchange, shared/mcp/upstream.ts), not per request.
 */
export class McpClient {
  private nextId = 1;
  private capabilities: ServerCapabilities = {};
  private readonly transport: ClientTransport;
  private readonly link: Link;

  private constructor(transport: ClientTransport, link: Link) {
    this.transport = transport;
    this.link = link;
  }

  /**
   * Connects and initializes: our newest revision is offered, the server's choice must be one
   * we speak. `initialized: false` stops after the answer (the /ready check: nothing follows).
   */
  static async connect(
    link: Link,
    transport: 'streamable_http' | 'sse',
    { initialized = true }: { initialized?: boolean } = {},
  ): Promise<McpClient> {
    const client = new McpClient(
      transport === 'sse' ? await LegacySseTransport.open(link) : new StreamableHttpTransport(link),
      link,
    );
    try {
      const result = await client.request(
        'initialize',
        {
          protocolVersion: LATEST_PROTOCOL_VERSION,
          capabilities: {},
          clientInfo: { name: 'mas-gateway', version: VERSION },
        },
        initializeResultSchema(),
      );
      if (!isSupportedVersion(result.protocolVersion))
        throw link.fail.unsupportedVersion(result.protocolVersion);
      client.capabilities = result.capabilities;
      client.transport.protocolVersion = result.protocolVersion;
      if (initialized) await client.transport.notify({ jsonrpc: '2.0', method: 'notifications/initialized' });
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /**
   * A Streamable HTTP client that starts where an earlier handshake with the same server ended,
   * sending no initialize (see upstream.ts for when that is sound).
   */
  static resume(link: Link, handshake: Handshake): McpClient {
    const client = new McpClient(new StreamableHttpTransport(link), link);
    client.capabilities = handshake.capabilities;
    client.transport.protocolVersion = handshake.protocolVersion;
    return client;
  }

  /** This client's handshake, unless the server issued a session (state this client alone holds). */
  reusableHandshake(): Handshake | undefined {
    const { protocolVersion, sessionId } = this.transport;
    if (!protocolVersion || sessionId !== undefined) return undefined;
    return { protocolVersion, capabilities: this.capabilities };
  }

  getServerCapabilities(): ServerCapabilities {
    return this.capabilities;
  }

  /** One request; a JSON-RPC error answer becomes an UpstreamError carrying the upstream's code. */
  async request<S extends z.ZodMiniType>(method: string, params: Params, schema: S): Promise<z.infer<S>> {
    const id: RequestId = this.nextId++;
    const response = await this.transport.request({ jsonrpc: '2.0', id, method, params });
    if ('error' in response) throw this.link.fail.answered(response.error.code, response.error.message);
    const parsed = schema.safeParse(response.result);
    if (!parsed.success) throw this.link.fail.invalid(parsed.error);
    return parsed.data;
  }

  close(): void {
    this.transport.close();
  }
}
