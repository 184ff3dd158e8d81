/**
 * A Postgres with TLS for tests, in front of a real one: it answers the client's 8-byte
 * SSLRequest with 'S', does the TLS handshake with a certificate of its own (`certificates()`:
 * a throwaway CA, made with the machine's `openssl`) and relays the decrypted stream to the plain
 * Postgres behind it, as a server with `ssl = on` would. A client that sends its start-up message
 * without asking for TLS is relayed as it is (so `sslmode=prefer` / `require` can be told apart
 * from a plain connection by `connections` and `tlsConnections`).
 *
 * `answer: 'N'` plays a server without TLS (it refuses the SSLRequest and serves the plain
 * stream); `answer: 'S+junk'` writes bytes after the 'S' before any handshake, as a
 * man-in-the-middle injecting a response would (CVE-2021-23222).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';

export interface Certificates {
  /** The CA's certificate (PEM): what a client must trust. */
  ca: string;
  /** A file holding `ca`, for `sslrootcert=`. */
  caFile: string;
  /** Leaf certificates signed by the CA, with their keys (PEM). */
  localhost: { cert: string; key: string };
  /** For `db.example.test` only: a certificate that does not name the host a test connects to. */
  otherHost: { cert: string; key: string };
  dir: string;
  remove(): void;
}

/** A CA and two server certificates it signed, in a temporary directory (`remove()` deletes it). */
export function certificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'mas-pg-tls-'));
  // One openssl command per line, its arguments split on spaces (none has one of its own).
  const ssl = (command: string) => execFileSync('openssl', command.split(' '), { cwd: dir, stdio: 'pipe' });
  const key = 'ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  ssl(
    `req -x509 -newkey ${key} -keyout ca.key -out ca.crt -days 2 -subj /CN=mas-test-CA ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
  );
  const leaf = (name: string, san: string) => {
    ssl(`req -newkey ${key} -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`);
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    ssl(
      `x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 ` +
        `-out ${name}.crt -extfile ${name}.ext`,
    );
    return {
      cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
      key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    };
  };
  return {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    caFile: join(dir, 'ca.crt'),
    localhost: leaf('localhost', 'DNS:localhost,IP:127.0.0.1'),
    otherHost: leaf('other', 'DNS:db.example.test'),
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface PostgresTls {
  port: number;
  /** Connections accepted, and those of them that completed a TLS handshake. */
  connections: number;
  tlsConnections: number;
  close(): Promise<void>;
}

/** SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

export async function startPostgresTls(options: {
  /** The plain Postgres behind it. */
  upstream: { host: string; port: number };
  certificate: { cert: string; key: string };
  answer?: 'S' | 'N' | 'S+junk';
}): Promise<PostgresTls> {
  const context = createSecureContext(options.certificate);
  const sockets = new Set<Socket>();
  const state = { connections: 0, tlsConnections: 0 };
  const relay = (client: Socket | TLSSocket, head: Buffer) => {
    const upstream = tcpConnect(options.upstream.port, options.upstream.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  };
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 8) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.subarray(0, 8).equals(SSL_REQUEST)) return relay(socket, head);
      // A client waits for the answer before it sends anything else.
      if (head.length > 8) return socket.destroy();
      const answer = options.answer ?? 'S';
      if (answer === 'N') {
        socket.write('N');
        return relay(socket, Buffer.alloc(0));
      }
      socket.write(answer === 'S' ? 'S' : 'SE\0\0\0\x08junk');
      const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
      secure.on('secure', () => state.tlsConnections++);
      secure.on('error', () => socket.destroy());
      // A handshake that fails never reaches Postgres.
      secure.once('secure', () => relay(secure, Buffer.alloc(0)));
      socket.resume();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    get tlsConnections() {
      return state.tlsConnections;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
