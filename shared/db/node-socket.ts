/**
 * postgres.js's `socket` option off workerd (Node and Deno, which also run the workerd deploy
 * bundle: node/serve.mjs): node:net for a plain connection; for TLS, the SSLRequest on that
 * socket and then node:tls over it, as libpq negotiates. The driver is always given `ssl: false`
 * with it, so the same code runs under the driver's Node build (the source) and under its
 * workerd build (the deploy bundle, whose own socket and TLS upgrade are aliased away:
 * driver-unused/polyfills.ts).
 *
 * Verification is libpq's: `require` and `prefer` encrypt and check nothing, unless the URL names
 * an `sslrootcert` file that exists (then the chain is checked, as libpq does for backwards
 * compatibility); `verify-ca` checks the chain, `verify-full` the chain and the host name. The
 * roots are the `sslrootcert` file's, else the runtime's (Node's bundled ones and
 * NODE_EXTRA_CA_CERTS); libpq, without `sslrootcert`, would read ~/.postgresql/root.crt.
 *
 * The modules come in as arguments: this file is in every bundle that talks to Postgres, and a
 * static `node:tls` import would load it at every workerd isolate's start (postgres.ts imports
 * them only off workerd).
 */
import type * as Net from 'node:net';
import type * as Tls from 'node:tls';
import { SSL_REQUEST, socketError, sslAnswer, type TlsSettings } from './tls.ts';

type Modules = {
  net: typeof Net;
  tls: typeof Tls;
  readFile: (path: string, encoding: 'utf8') => Promise<string>;
};
/** What the driver passes the factory (its parsed options): the host and port lists, the timeout. */
type DriverOptions = { host: string[]; port: number[]; connect_timeout?: number };

/** One `sslrootcert` file, read once (a process has one DATABASE_URL); absent is undefined. */
let roots: { path: string; pem: Promise<string | undefined> } | undefined;

export function nodeSockets({ net, tls, readFile }: Modules) {
  const plain = (o: DriverOptions) => net.connect(o.port[0]!, o.host[0]!).setNoDelay(true);

  /**
   * The TLS socket once its handshake is done; a plain one if `prefer` meets a server without TLS.
   * Given to the driver as a promise, which it awaits before it starts its connect timer: the
   * negotiation keeps its own deadline, the same timeout.
   */
  const secure = async (settings: TlsSettings, o: DriverOptions): Promise<Net.Socket> => {
    const host = o.host[0]!;
    const path = settings.rootCert;
    if (path && roots?.path !== path) {
      roots = { path, pem: readFile(path, 'utf8').catch(() => undefined) };
    }
    const ca = path ? await roots!.pem : undefined;
    if (path && !ca && settings.mode.startsWith('verify-')) {
      throw socketError('The sslrootcert file cannot be read.', 'TLS_ROOT_CERT');
    }
    const verify = settings.mode.startsWith('verify-') || Boolean(ca);
    const socket = plain(o);
    let upgraded: Tls.TLSSocket | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let fail!: (err: unknown) => void;
    let answered!: (answer: Buffer) => void;
    const request = () => socket.write(SSL_REQUEST);
    try {
      return await new Promise<Net.Socket>((resolve, reject) => {
        fail = reject;
        timer = setTimeout(
          () => reject(socketError('connect timed out', 'CONNECT_TIMEOUT')),
          (o.connect_timeout ?? 30) * 1000,
        );
        answered = (answer) => {
          try {
            if (!sslAnswer(answer, settings.mode)) return resolve(socket);
          } catch (err) {
            return reject(err);
          }
          upgraded = tls.connect({
            socket,
            // A host name goes in SNI and is checked; an address is checked against the IP SANs.
            host,
            ...(net.isIP(host) ? {} : { servername: host }),
            rejectUnauthorized: verify,
            ...(ca ? { ca } : {}),
            // verify-ca (or a root file under require or prefer): the chain, not the name.
            ...(settings.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
          });
          upgraded.once('error', reject).once('secureConnect', () => resolve(upgraded!));
        };
        socket.once('error', reject).once('connect', request).once('data', answered);
      });
    } catch (err) {
      upgraded?.destroy();
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
      // Ours only: the driver attaches its own listeners to what it is given.
      socket.off('error', fail).off('connect', request).off('data', answered);
      upgraded?.off('error', fail);
    }
  };

  /** The `socket` option for a URL's TLS settings. */
  return (settings: TlsSettings) =>
    settings.mode === 'off' ? plain : (o: DriverOptions) => secure(settings, o);
}
