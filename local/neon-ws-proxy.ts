import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  BackendPool,
  BackendWatch,
  connectBackend,
  isStartup,
  readyForQueryIdle,
  startupPacket,
  TERMINATE,
} from './pg-pool.ts';

export interface NeonWsProxy {
  port: number;
  /** `host:port/v1`, the form `neonConfig.wsProxy` builds URLs from. */
  url: string;
  close(): Promise<void>;
}

/**
 * The WebSocket-to-TCP proxy Neon's serverless driver needs to reach a plain Postgres: the
 * driver opens `ws://<proxy>/v1?address=<host>:<port>` and then sends raw Postgres wire bytes
 * in binary messages, both ways. Only `allowedTargets` can be reached, so it is never an open
 * relay.
 */
export async function startNeonWsProxy(options: {
  port?: number;
  host?: string;
  allowedTargets?: string[];
  /**
   * Targets whose idle authenticated backends are reused across sessions (local/pg-pool.ts), as
   * Neon's pooler does; `true` for all. Never PGlite: it has a single backend.
   */
  pool?: boolean | string[];
}): Promise<NeonWsProxy> {
  const host = options.host ?? '127.0.0.1';
  const allowed = new Set(options.allowedTargets ?? []);
  const open = new Set<{ ws: WebSocket; socket: Socket }>();
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
  });
  const targetOf = (url: string | undefined) =>
    new URL(url ?? '/', 'http://proxy').searchParams.get('address') ?? '';
  // Refuse other targets before the upgrade, so the driver sees a failed connect rather than a
  // socket closed under its first write.
  const wss = new WebSocketServer({
    server,
    verifyClient: (info: { req: { url?: string } }) => allowed.has(targetOf(info.req.url)),
  });

  const pool = options.pool ? new BackendPool() : undefined;
  const poolsTarget = (target: string) =>
    options.pool === true || (Array.isArray(options.pool) && options.pool.includes(target));

  /** Relays one session's bytes both ways; with a pool, hands an idle backend back at Terminate. */
  function relay(ws: WebSocket, socket: Socket, pooled?: { key: string; watch: BackendWatch }) {
    const pair = { ws, socket };
    open.add(pair);
    let detached = false;
    const onData = (chunk: Buffer) => {
      pooled?.watch.observe(chunk);
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    };
    const onDrain = () => ws.resume?.();
    const closeBoth = () => {
      open.delete(pair);
      if (!detached) {
        // end(), not destroy(): bytes still queued (the driver's Terminate message) must reach
        // the server, or a single-connection server like PGlite is left mid-conversation.
        socket.end();
      }
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (detached) return;
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (chunk.equals(TERMINATE)) {
        if (pool && pooled?.watch.reusable) {
          detached = true;
          socket.off('data', onData);
          socket.off('drain', onDrain);
          socket.off('error', closeBoth);
          socket.off('close', closeBoth);
          open.delete(pair);
          pool.release({ socket, key: pooled.key, greeting: pooled.watch.greeting });
          ws.close();
          return;
        }
        // Postgres closes the connection after Terminate and the driver waits for that; PGlite's
        // socket server does not close, so the proxy does it for both.
        socket.end(chunk);
        ws.close();
        return;
      }
      if (!socket.write(chunk)) ws.pause?.();
    });
    socket.on('drain', onDrain);
    socket.on('data', onData);
    socket.on('error', closeBoth);
    socket.on('close', closeBoth);
    ws.on('error', closeBoth);
    ws.on('close', closeBoth);
  }

  wss.on('connection', (ws, req) => {
    const address = targetOf(req.url);
    if (!pool || !poolsTarget(address)) return relay(ws, connectBackend(address));
    // Pooled: read the start-up packet first, to pick a backend started with the same parameters.
    let pending = Buffer.alloc(0);
    const first = (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      pending = Buffer.concat([pending, chunk]);
      const packet = startupPacket(pending);
      if (!packet) return;
      ws.off('message', first);
      const rest = pending.subarray(packet.length);
      if (!isStartup(packet)) {
        // SSL, GSS or cancel request: a plain relay, never pooled.
        const socket = connectBackend(address);
        socket.write(pending);
        return relay(ws, socket);
      }
      const key = `${address}|${packet.subarray(8).toString('latin1')}`;
      const reused = pool.take(key);
      if (reused) {
        ws.send(Buffer.concat([reused.greeting, readyForQueryIdle()]), { binary: true });
        relay(ws, reused.socket, { key, watch: new BackendWatch(reused.greeting) });
      } else {
        const socket = connectBackend(address);
        socket.write(packet);
        relay(ws, socket, { key, watch: new BackendWatch() });
      }
      if (rest.length) ws.emit('message', rest, true);
    };
    ws.on('message', first);
    ws.on('close', () => ws.off('message', first));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    url: `${host}:${port}/v1`,
    close: async () => {
      for (const { ws, socket } of open) {
        socket.destroy();
        ws.terminate();
      }
      open.clear();
      pool?.close();
      // Sockets mid close-handshake would keep server.close() waiting forever.
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
