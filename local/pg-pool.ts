import { connect, type Socket } from 'node:net';

/**
 * Server-side connection pooling for the local WebSocket proxy, the job Neon's pooler (PgBouncer)
 * and Cloudflare Hyperdrive do in production. A Worker opens a new Postgres connection for every
 * request (sockets cannot outlive one); against a plain local Postgres that costs ~20 ms of
 * backend start-up per request. Here a session whose backend authenticated without a password
 * challenge (trust) and ends idle (ReadyForQuery 'I', so no open transaction) gives its backend
 * back after `DISCARD ALL`; the next session with the same start-up parameters gets it at once,
 * with the greeting (AuthenticationOk, ParameterStatus, BackendKeyData) replayed. A backend that
 * asked for a password, or ends mid-transaction or mid-query, is closed, never reused.
 */

const PROTOCOL_3 = 196608;
const READY_IDLE = 0x49; // 'I'
const DISCARD_ALL = query('DISCARD ALL');

export interface PooledBackend {
  socket: Socket;
  key: string;
  /** AuthenticationOk, ParameterStatus and BackendKeyData messages, as the server sent them. */
  greeting: Buffer;
}

/** Idle authenticated backends per (target, start-up parameters). */
export class BackendPool {
  private readonly idle = new Map<string, PooledBackend[]>();
  private readonly maxIdlePerKey: number;

  constructor(maxIdlePerKey = 64) {
    this.maxIdlePerKey = maxIdlePerKey;
  }

  take(key: string): PooledBackend | undefined {
    const list = this.idle.get(key);
    while (list?.length) {
      const backend = list.pop()!;
      backend.socket.removeAllListeners('close');
      if (!backend.socket.destroyed) return backend;
    }
    return undefined;
  }

  /** Resets the session and parks the backend; closes it when the reset fails or the pool is full. */
  release(backend: PooledBackend): void {
    const { socket } = backend;
    socket.removeAllListeners('data');
    const reader = new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        if (message.type === 0x45) socket.destroy(); // ErrorResponse: not reusable
        if (message.type === 0x5a) {
          socket.removeAllListeners('data');
          if (message.body[0] !== READY_IDLE) return void socket.destroy();
          const list = this.idle.get(backend.key) ?? [];
          if (list.length >= this.maxIdlePerKey) return void socket.end(TERMINATE);
          list.push(backend);
          this.idle.set(backend.key, list);
          socket.once('close', () => {
            const i = list.indexOf(backend);
            if (i >= 0) list.splice(i, 1);
          });
        }
      }
    });
    socket.write(DISCARD_ALL);
  }

  close(): void {
    for (const list of this.idle.values()) for (const b of list) b.socket.destroy();
    this.idle.clear();
  }
}

export const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/** A complete start-up packet (int32 length first), or undefined while more bytes are due. */
export function startupPacket(buffer: Buffer): Buffer | undefined {
  if (buffer.length < 8) return undefined;
  const length = buffer.readInt32BE(0);
  return buffer.length >= length ? buffer.subarray(0, length) : undefined;
}

/** Protocol 3.0 start-up (not an SSL/GSS/cancel request): poolable by its parameters. */
export function isStartup(packet: Buffer): boolean {
  return packet.readInt32BE(4) === PROTOCOL_3;
}

export interface Message {
  type: number;
  /** The message body (after type and length). */
  body: Buffer;
  /** Type, length and body as on the wire. */
  raw: Buffer;
}

/** Splits a stream of typed Postgres messages (type byte, int32 length, body) into messages. */
export class MessageReader {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): Message[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: Message[] = [];
    while (this.buffer.length >= 5) {
      const length = this.buffer.readInt32BE(1);
      if (this.buffer.length < 1 + length) break;
      const raw = this.buffer.subarray(0, 1 + length);
      out.push({ type: raw[0]!, body: raw.subarray(5), raw });
      this.buffer = this.buffer.subarray(1 + length);
    }
    return out;
  }
}

/**
 * Watches a backend's replies for a session: records the greeting until the first
 * ReadyForQuery, whether authentication asked for anything (then the backend is never pooled),
 * and the transaction status of the latest ReadyForQuery.
 */
export class BackendWatch {
  private readonly reader = new MessageReader();
  private readonly greetingParts: Buffer[] = [];
  greeted = false;
  challenged = false;
  status = 0;

  /** `replayed`: the greeting a pooled backend's session was given; kept for its next session. */
  constructor(replayed?: Buffer) {
    if (replayed) {
      this.greetingParts.push(replayed);
      this.greeted = true;
      this.status = READY_IDLE;
    }
  }

  observe(chunk: Buffer): void {
    for (const message of this.reader.push(chunk)) {
      if (message.type === 0x5a) {
        this.status = message.body[0] ?? 0;
        this.greeted = true;
      } else if (!this.greeted) {
        if (message.type === 0x52 && message.body.readInt32BE(0) !== 0) this.challenged = true;
        if (message.type === 0x52 || message.type === 0x53 || message.type === 0x4b) {
          this.greetingParts.push(Buffer.from(message.raw));
        }
      }
    }
  }

  get greeting(): Buffer {
    return Buffer.concat(this.greetingParts);
  }

  /** Reusable: authenticated without a challenge, greeted, and idle outside a transaction. */
  get reusable(): boolean {
    return this.greeted && !this.challenged && this.status === READY_IDLE;
  }
}

export function readyForQueryIdle(): Buffer {
  return Buffer.from([0x5a, 0, 0, 0, 5, READY_IDLE]);
}

export function connectBackend(address: string): Socket {
  const sep = address.lastIndexOf(':');
  const socket = connect(Number(address.slice(sep + 1)), address.slice(0, sep).replace(/^\[|\]$/g, ''));
  socket.setNoDelay(true);
  return socket;
}

function query(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`);
  const out = Buffer.alloc(5 + text.length);
  out[0] = 0x51;
  out.writeInt32BE(4 + text.length, 1);
  text.copy(out, 5);
  return out;
}
