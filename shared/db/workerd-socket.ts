/**
 * postgres.js's `socket` option on workerd: a Node-style socket (the EventEmitter, `write`, `end`,
 * `destroy` and `readyState` its connection uses) over `cloudflare:sockets`, with the TLS
 * negotiation done here.
 *
 * Why not the driver's own workerd socket (postgres/cf/polyfills.js, 3.4.9): when a connection
 * closes, its read loop rejects after the driver has removed its listeners, and the `'error'` it
 * then emits throws out of a promise: one unhandled rejection per connection, which fails a
 * vitest-pool-workers run and is an error logged against a request in production
 * (porsager/postgres#1196, #1202). Here an error nobody listens to any more is dropped, and
 * `'close'` is emitted once.
 */

import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { SSL_REQUEST, sslAnswer, type TlsMode, type TlsSettings } from './tls.ts';

/**
 * Imported when first used, not at the top: a static import would make every bundle that
 * carries this module unloadable off workerd (the bench also runs the workerd bundle under Node).
 */
let sockets: Promise<typeof import('cloudflare:sockets')> | undefined;

class WorkerdSocket extends EventEmitter {
  readyState: 'opening' | 'open' | 'closed' = 'opening';
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #socket: Socket | undefined;
  readonly #ready: Promise<void>;
  /** Read by the driver's error messages. */
  readonly host: string;
  readonly port: number;

  constructor(host: string, port: number, tls: TlsMode) {
    super();
    this.host = host;
    this.port = port;
    this.#ready = this.#open(tls);
    // Failures surface as 'error' + 'close' (below); the promise itself must not reject unheard.
    this.#ready.catch(() => undefined);
  }

  async #open(tls: TlsMode): Promise<void> {
    try {
      sockets ??= import('cloudflare:sockets');
      const { connect } = await sockets;
      let socket = connect(
        { hostname: this.host, port: this.port },
        { secureTransport: tls === 'off' ? 'off' : 'starttls', allowHalfOpen: false },
      );
      this.#socket = socket;
      if (tls !== 'off') {
        // Postgres answers SSLRequest with one byte: 'S' (go ahead) or 'N'.
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        await writer.write(SSL_REQUEST);
        const { value } = await reader.read();
        writer.releaseLock();
        reader.releaseLock();
        // Whatever the mode, workerd verifies the chain (against its roots) and the host name.
        if (sslAnswer(value, tls)) {
          socket = socket.startTls();
          this.#socket = socket;
        }
      }
      this.#writer = socket.writable.getWriter();
      if (this.readyState === 'opening') this.readyState = 'open';
      void this.#read(socket.readable.getReader());
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // A view on the chunk's own memory: the driver slices it and never writes into it.
        this.emit('data', Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
      this.#closed();
    } catch (err) {
      this.#fail(err);
    }
  }

  write(data: Uint8Array, done?: () => void): boolean {
    this.#ready.then(() => this.#writer!.write(data)).then(done, (err: unknown) => this.#fail(err));
    return true;
  }

  end(data?: Uint8Array): void {
    if (data) this.write(data, () => this.#close());
    else this.#close();
  }

  destroy(): void {
    this.#close();
  }

  // The driver pauses the socket only around COPY streams, which nothing here uses.
  pause(): void {}
  resume(): void {}

  #close(): void {
    if (this.readyState === 'closed') return;
    this.#socket?.close().catch(() => undefined);
    this.#closed();
  }

  #fail(err: unknown): void {
    if (this.readyState === 'closed') return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#close();
  }

  #closed(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    // After the caller's own step, as a Node socket's 'close' comes.
    queueMicrotask(() => this.emit('close'));
  }
}

/**
 * The `socket` option: called with the driver's parsed options for each connection. workerd reads
 * no files: `sslrootcert=<file>` is not read, the runtime's roots are trusted.
 */
export function workerdSocket(tls: TlsSettings) {
  return (options: { host: string[]; port: number[] }) =>
    new WorkerdSocket(options.host[0]!, options.port[0]!, tls.mode);
}
