import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Redis from 'ioredis';
import { constantTimeEqual } from '../shared/crypto/constant-time.ts';

export interface UpstashBridge {
  port: number;
  /** Base URL for `new Redis({ url, token })` from `@upstash/redis`. */
  url: string;
  close(): Promise<void>;
}

type Command = [string, ...unknown[]];
type Reply = { result: unknown } | { error: string };

const MAX_BODY = 8 * 1024 * 1024;

/**
 * Upstash's Redis REST protocol in front of a real Redis, so the functions' `@upstash/redis`
 * client works locally unchanged: `POST /` (one command), `/pipeline`, `/multi-exec`, bearer
 * token, and `Upstash-Encoding: base64` replies (the client's default). Redis errors are 400
 * with the Redis message (`@upstash/ratelimit` looks for NOSCRIPT in it); an unreachable Redis is
 * a quick 503, never a hang. (The npm package @humanwhocodes/upstash-redis-server lacks base64
 * replies and /multi-exec, which the client uses, hence this small bridge.)
 */
export async function startUpstashBridge(options: {
  redisUrl: string;
  token: string;
  port?: number;
  host?: string;
}): Promise<UpstashBridge> {
  const redis = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => undefined);
  await redis.connect().catch(() => undefined);
  const expected = `Bearer ${options.token}`;
  const scripts = new ScriptFlags();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: `bridge error: ${err.message}` }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!constantTimeEqual(req.headers.authorization ?? '', expected)) {
      return send(res, 401, { error: 'Unauthorized' });
    }
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const path = new URL(req.url ?? '/', 'http://bridge').pathname.replace(/\/+$/, '') || '/';
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (err) {
      return send(res, 400, { error: `ERR ${(err as Error).message}` });
    }
    if (redis.status !== 'ready') {
      await redis.connect().catch(() => undefined);
      if ((redis.status as string) !== 'ready')
        return send(res, 503, { error: 'ERR Redis is unreachable from the bridge' });
    }
    if (path === '/') {
      if (!isCommand(body)) return send(res, 400, { error: 'ERR body must be a JSON array command' });
      try {
        const [name, ...args] = scripts.translate(body);
        const result = await redis.call(name, ...args.map(toArg));
        return send(res, 200, { result: encode(result, base64, true) });
      } catch (err) {
        return send(res, 400, { error: (err as Error).message });
      }
    }
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body) || body.length === 0 || !body.every(isCommand)) {
        return send(res, 400, { error: 'ERR body must be a JSON array of commands' });
      }
      const batch = path === '/pipeline' ? redis.pipeline() : redis.multi();
      for (const command of body as Command[]) {
        const [name, ...args] = scripts.translate(command);
        batch.call(name, ...args.map(toArg));
      }
      const results = await batch.exec();
      if (!results) return send(res, 400, { error: 'EXECABORT Transaction discarded' });
      const replies: Reply[] = results.map(([err, result]) =>
        err ? { error: err.message } : { result: encode(result, base64, true) },
      );
      return send(res, 200, replies);
    }
    return send(res, 404, { error: `ERR unknown endpoint ${path}` });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}

/**
 * Upstash accepts Lua shebang flags that open-source Redis 7.0 refuses (`@upstash/ratelimit`
 * sends `#!lua flags=allow-key-locking`). The bridge drops unknown flags from EVAL / SCRIPT LOAD
 * and maps the original script's SHA to the rewritten one, so EVALSHA with the SHA the client
 * computed still finds it, as on Upstash.
 */
class ScriptFlags {
  private readonly shaMap = new Map<string, string>();

  translate(command: Command): [string, ...unknown[]] {
    const name = String(command[0]);
    const upper = name.toUpperCase();
    const args = command.slice(1);
    if ((upper === 'EVAL' || upper === 'EVAL_RO') && typeof args[0] === 'string') {
      return [name, this.rewrite(args[0]), ...args.slice(1)];
    }
    if (upper === 'SCRIPT' && String(args[0]).toUpperCase() === 'LOAD' && typeof args[1] === 'string') {
      return [name, args[0], this.rewrite(args[1])];
    }
    if ((upper === 'EVALSHA' || upper === 'EVALSHA_RO') && typeof args[0] === 'string') {
      return [name, this.shaMap.get(args[0].toLowerCase()) ?? args[0], ...args.slice(1)];
    }
    return [name, ...args];
  }

  private rewrite(script: string): string {
    const match = /^#!lua([^\n]*)\n/.exec(script);
    if (!match?.[1]?.includes('allow-key-locking')) return script;
    const flags = (/flags=(\S+)/.exec(match[1])?.[1] ?? '')
      .split(',')
      .filter((f) => f && f !== 'allow-key-locking');
    const rewritten = `#!lua${flags.length ? ` flags=${flags.join(',')}` : ''}\n${script.slice(match[0].length)}`;
    this.shaMap.set(sha1(script), sha1(rewritten));
    return rewritten;
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

function isCommand(value: unknown): value is Command {
  return Array.isArray(value) && value.length > 0 && typeof value[0] === 'string';
}

/** Arguments as Redis sees them: strings, with numbers and JSON values stringified. */
function toArg(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Upstash's base64 reply encoding: bulk strings base64-encoded (UTF-8 bytes), integers as numbers,
 * nil as null, arrays element-wise; a top-level "OK" status stays plain.
 */
function encode(value: unknown, base64: boolean, top = false): unknown {
  // ioredis turns HGETALL replies into objects; the wire format is the flat array.
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value)) {
    return encode(Object.entries(value).flat(), base64);
  }
  if (!base64) return value;
  if (typeof value === 'string')
    return top && value === 'OK' ? value : Buffer.from(value, 'utf8').toString('base64');
  if (Buffer.isBuffer(value)) return (value as Buffer).toString('base64');
  if (Array.isArray(value)) return (value as unknown[]).map((v) => encode(v, base64));
  return value;
}

function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
