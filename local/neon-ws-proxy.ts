import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

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

  /** Relays one session's bytes both ways. */
  function relay(ws: WebSocket, socket: Socket) {
    const pair = { ws, socket };
    open.add(pair);
    const onData = (chunk: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    };
    const closeBoth = () => {
      open.delete(pair);
      // end(), not destroy(): bytes still queued (the driver's Terminate message) must reach
      // the server, or a single-connection server like PGlite is left mid-conversation.
      socket.end();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (chunk.equals(TERMINATE)) {
        // Postgres closes the connection after Terminate and the driver waits for that; PGlite's
        // socket server does not close, so the proxy does it for both.
        socket.end(chunk);
        ws.close();
        return;
      }
      if (!socket.write(chunk)) ws.pause?.();
    });
    socket.on('drain', () => ws.resume?.());
    socket.on('data', onData);
    socket.on('error', closeBoth);
    socket.on('close', closeBoth);
    ws.on('error', closeBoth);
    ws.on('close', closeBoth);
  }

  wss.on('connection', (ws, req) => relay(ws, connectBackend(targetOf(req.url))));

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
      // Sockets mid close-handshake would keep server.close() waiting forever.
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The frontend's Terminate message ('X', length 4). */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

function connectBackend(address: string): Socket {
  const sep = address.lastIndexOf(':');
  const socket = connect(Number(address.slice(sep + 1)), address.slice(0, sep).replace(/^\[|\]$/g, ''));
  socket.setNoDelay(true);
  return socket;
}
