import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './listen.ts';

/**
 * One local server standing in for MINDEX, NatureOS and Website (`/<integration>/...`), JSON
 * over HTTP as they speak it, told to misbehave by the path:
 *   `.../fail-<n>-<id>`   503 for the first n calls (per method+path), then 200
 *   `.../rate-<id>`       429 with `Retry-After: 1` once, then 200
 *   `.../stall`           accepts and never answers
 *   `.../big-<n>-<json|text>-<length|chunked>`  200 with a body of exactly n bytes (JSON: one
 *                         object padded to n), with a Content-Length or chunked (length unknown)
 * Other paths answer 200 JSON (with a Set-Cookie and a Location the proxy must not pass back).
 * GET /__requests returns every request received (method, path, headers, body).
 */
export async function startIntegrationsFake(): Promise<{ url: string; close(): Promise<void> }> {
  const received: Array<{ method: string; path: string; headers: Record<string, unknown>; body: string }> =
    [];
  const counters = new Map<string, number>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname === '/__requests') return json(res, 200, received);
    received.push({
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
      body,
    });
    const key = `${req.method} ${url.pathname}`;
    const count = (counters.get(key) ?? 0) + 1;
    counters.set(key, count);
    const last = url.pathname.split('/').pop() ?? '';
    const fail = /^fail-(\d+)-/.exec(last);
    if (fail && count <= Number(fail[1])) return json(res, 503, { error: 'temporarily unavailable' });
    if (last.startsWith('rate-') && count === 1) {
      res.setHeader('retry-after', '1');
      return json(res, 429, { error: 'slow down' });
    }
    if (last === 'stall') return;
    const big = /^big-(\d+)-(json|text)-(length|chunked)$/.exec(last);
    if (big) return bigBody(res, Number(big[1]), big[2] === 'json', big[3] === 'length');
    res.setHeader('set-cookie', 'upstream_session=secret; HttpOnly');
    res.setHeader('location', 'http://10.0.0.5/internal');
    res.setHeader('etag', '"v1"');
    return json(res, req.method === 'POST' ? 201 : 200, {
      ok: true,
      method: req.method,
      path: url.pathname,
      data: [{ id: 1, name: last }],
      entities: [{ id: 'e1', kind: last }],
    });
  }

  return listenOnLoopback(server);
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** `size` bytes in 64 KiB writes; JSON is `{"data":"xxx…"}` padded to `size`. */
function bigBody(res: ServerResponse, size: number, json: boolean, withLength: boolean) {
  const body = Buffer.alloc(size, 'x');
  if (json) {
    Buffer.from('{"data":"').copy(body, 0);
    Buffer.from('"}').copy(body, size - 2);
  }
  res.writeHead(200, {
    'content-type': json ? 'application/json' : 'application/octet-stream',
    ...(withLength ? { 'content-length': String(size) } : {}),
  });
  for (let at = 0; at < size; at += 65_536) res.write(body.subarray(at, at + 65_536));
  res.end();
}
