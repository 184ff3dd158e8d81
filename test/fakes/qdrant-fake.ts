import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './listen.ts';

/**
 * A local stand-in for Qdrant's REST API, enough for our adapter: collections (GET/PUT), points
 * upsert, search with cosine similarity and `must` match filters, and /readyz. Answers in
 * Qdrant's envelope `{ "result": ..., "status": "ok", "time": ... }`.
 */
export async function startQdrantFake(): Promise<{ url: string; close(): Promise<void> }> {
  const collections = new Map<
    string,
    {
      size: number;
      points: Map<string, { id: string | number; vector: number[]; payload: Record<string, unknown> }>;
    }
  >();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const text = await readBody(req);
    const body = text ? JSON.parse(text) : {};
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path === '/readyz') return send(res, 200, 'all shards are ready');
    const m = /^\/collections\/([^/]+)(\/points(\/search)?)?$/.exec(path);
    if (!m) return fail(res, 404, 'Not found');
    const name = decodeURIComponent(m[1]!);
    const collection = collections.get(name);
    if (!m[2]) {
      if (req.method === 'GET') {
        if (!collection) return fail(res, 404, `Collection \`${name}\` doesn't exist!`);
        return ok(res, {
          status: 'green',
          config: { params: { vectors: { size: collection.size, distance: 'Cosine' } } },
        });
      }
      if (req.method === 'PUT') {
        if (collection) return fail(res, 409, `Collection \`${name}\` already exists!`);
        collections.set(name, { size: body.vectors.size, points: new Map() });
        return ok(res, true);
      }
    }
    if (!collection) return fail(res, 404, `Collection \`${name}\` doesn't exist!`);
    if (m[2] && !m[3] && req.method === 'PUT') {
      for (const p of body.points as Array<{
        id: string | number;
        vector: number[];
        payload?: Record<string, unknown>;
      }>) {
        if (p.vector.length !== collection.size) {
          return fail(
            res,
            400,
            `Wrong input: Vector dimension error: expected dim: ${collection.size}, got ${p.vector.length}`,
          );
        }
        collection.points.set(String(p.id), { id: p.id, vector: p.vector, payload: p.payload ?? {} });
      }
      return ok(res, { operation_id: 1, status: 'completed' });
    }
    if (m[3] && req.method === 'POST') {
      const must = (body.filter?.must ?? []) as Array<{ key: string; match: { value: unknown } }>;
      const hits = [...collection.points.values()]
        .filter((p) => must.every((f) => p.payload[f.key] === f.match.value))
        .map((p) => ({ id: p.id, version: 0, score: cosine(p.vector, body.vector), payload: p.payload }))
        .sort((a, b) => b.score - a.score)
        .slice(0, body.limit ?? 10);
      return ok(res, hits);
    }
    return fail(res, 405, 'Method not allowed');
  }

  return listenOnLoopback(server);
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb) || 1);
}

function ok(res: ServerResponse, result: unknown) {
  send(res, 200, { result, status: 'ok', time: 0.0001 });
}

function fail(res: ServerResponse, code: number, error: string) {
  send(res, code, { status: { error }, time: 0.0001 });
}

function send(res: ServerResponse, code: number, body: unknown) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(code, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' })
    .end(text);
}
