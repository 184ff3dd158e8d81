/** Why an upstream exchange failed, in words safe to show an agent (no URL, no credential). */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly kind: 'timeout' | 'unreachable' | 'protocol' | 'upstream_error';
  readonly server: string;
  /** The upstream's own JSON-RPC error code, when it answered with one. */
  readonly upstreamCode: number | undefined;
  constructor(
    kind: UpstreamError['kind'],
    server: string,
    message: string,
    upstreamCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.kind = kind;
    this.server = server;
    this.upstreamCode = upstreamCode;
  }
}

/**
 * Every way an upstream exchange fails, worded once: the tools/call results, the JSON-RPC errors
 * of listings and the /ready checks all say the same thing for the same failure.
 */
export function upstreamFailures(server: string) {
  const at = `MCP server '${server}'`;
  return {
    timeout: (ms: number, cause?: unknown) =>
      new UpstreamError('timeout', server, `${at} did not answer within ${ms} ms.`, undefined, { cause }),
    unreachable: (cause?: unknown) =>
      new UpstreamError('unreachable', server, `${at} is unreachable.`, undefined, { cause }),
    closed: () => new UpstreamError('unreachable', server, `${at} closed the connection.`),
    cancelled: (cause?: unknown) =>
      new UpstreamError('unreachable', server, `The call to ${at} was cancelled.`, undefined, { cause }),
    /** An HTTP refusal: the status says enough, the body may echo what we sent. */
    status: (status: number) =>
      new UpstreamError(
        'unreachable',
        server,
        status === 401 || status === 403
          ? `${at} refused the gateway's credential (HTTP ${status}).`
          : `${at} answered HTTP ${status}.`,
      ),
    invalid: (cause?: unknown) =>
      new UpstreamError(
        'protocol',
        server,
        `${at} answered with something that is not valid MCP.`,
        undefined,
        {
          cause,
        },
      ),
    /** An answer past the client's bound (client-transport.ts MAX_MESSAGE_BYTES): not read further. */
    tooLarge: (max: number) =>
      new UpstreamError('protocol', server, `${at} answered with more than ${max} bytes in one message.`),
    unsupportedVersion: (version: unknown) =>
      new UpstreamError(
        'protocol',
        server,
        `${at} speaks an unsupported protocol version: ${String(version).slice(0, 40)}`,
      ),
    /** The upstream answered with a JSON-RPC error of its own: its words, bounded. */
    answered: (code: number, message: string) =>
      new UpstreamError(
        'upstream_error',
        server,
        // The SDK's servers prefix their messages with "MCP error <code>: ".
        `${at} answered: ${message.replace(/^MCP error -?\d+: /, '').slice(0, 500)}`,
        code,
      ),
  };
}

export type UpstreamFailures = ReturnType<typeof upstreamFailures>;
