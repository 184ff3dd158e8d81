/**
 * What a connection's TLS is, as libpq reads the URL (postgres.ts), and the SSLRequest both
 * sockets send (workerd-socket.ts, node-socket.ts).
 */

/**
 * `sslmode`: `off` (disable), `prefer` (allow, prefer: TLS if the server offers it), `require`
 * (TLS or nothing), `verify-ca` (and the certificate chains to a trusted root), `verify-full` (and
 * it names the host). What is verified is the runtime's to say: workerd always verifies chain and
 * host, whatever the mode; node-socket.ts does as libpq does.
 */
export type TlsMode = 'off' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface TlsSettings {
  mode: TlsMode;
  /**
   * `sslrootcert=<file>`: the roots to trust instead of the system's (`system` itself is
   * `verify-full` with the system's roots). Read on Node and Deno; workerd reads no files and
   * trusts its own roots.
   */
  rootCert?: string;
}

/** SSLRequest: length 8, code 80877103. Postgres answers it with one byte, 'S' or 'N'. */
export const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

/** A connection that did not open, with its reason's code (postgres.ts names the reason). */
export const socketError = (message: string, code: string): Error =>
  Object.assign(new Error(message), { code });

/**
 * What the SSLRequest's answer says: true for TLS, false for plain, or the reason to give up ('N'
 * when the mode wants TLS; more than the one byte, which libpq refuses as what a man-in-the-middle
 * would inject before the handshake: CVE-2021-23222).
 */
export function sslAnswer(answer: Uint8Array | undefined, mode: TlsMode): boolean {
  if (answer?.byteLength !== 1) throw socketError('Unencrypted data after the SSL response.', '08P01');
  if (answer[0] === 0x53) return true;
  if (mode === 'prefer') return false;
  throw socketError('The server does not support SSL connections.', 'TLS_REFUSED');
}
