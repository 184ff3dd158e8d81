import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { startChild } from '../../bench/lib/children.ts';
import { type NodeServer, serveNode } from '../../node/serve.mjs';
import { toAppError } from '../../shared/errors/index.ts';
import { readJson } from '../../shared/middleware/json-body/index.ts';

// node/serve.mjs, the Node entry: the handler gets the env it was given and a context whose
// waitUntil lets work run on; JSON bodies are read whole when a Content-Length frames them and
// counted as they stream when not, so the 413 holds either way over real HTTP.

const MAX = 100;
const seen: { env?: unknown; background?: string } = {};
const app = new Hono<{ Bindings: { NAME: string } }>();
app.post('/echo', async (c) => {
  const body = await readJson(c, z.object({ name: z.string() }), MAX);
  seen.env = c.env.NAME;
  c.executionCtx.waitUntil(Promise.resolve().then(() => (seen.background = body.name)));
  return c.json(body);
});
app.onError((err, c) =>
  c.json({ code: toAppError(err, 'test').code }, toAppError(err, 'test').status as 400),
);

let server: NodeServer;
beforeAll(async () => {
  server = await serveNode(app, { env: { NAME: 'node-env' }, port: 0 });
});
afterAll(() => server?.close());

/** POSTs `body` as JSON, with a Content-Length or chunked (no length). */
function post(body: string, framing: 'length' | 'chunked'): Promise<{ status: number; text: string }> {
  const url = new URL(`${server.url}/echo`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(framing === 'length' ? { 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    if (framing === 'chunked') {
      // Two writes: the body arrives as a stream of chunks, with no length up front.
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    } else req.end(body);
  });
}

describe('node/serve.mjs', () => {
  it.each(['length', 'chunked'] as const)(
    'reads a JSON body framed by %s, with env and waitUntil',
    async (f) => {
      const res = await post(JSON.stringify({ name: `a-${f}` }), f);
      expect(res).toEqual({ status: 200, text: JSON.stringify({ name: `a-${f}` }) });
      expect(seen.env).toBe('node-env');
      await expect.poll(() => seen.background).toBe(`a-${f}`);
    },
  );

  it.each(['length', 'chunked'] as const)('413 past the limit framed by %s', async (f) => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(MAX) }), f);
    expect(res.status).toBe(413);
  });

  it('400 for malformed JSON read whole', async () => {
    const res = await post('{"name":', 'length');
    expect(res).toEqual({ status: 400, text: JSON.stringify({ code: 'invalid_json' }) });
  });
});

describe('node/serve.mjs loading a deploy bundle', () => {
  it('stubs the workerd-only modules a bundle imports at its top (cloudflare:sockets)', async () => {
    // Run by real Node (not through vitest's module runner), as `node-bundle` runs.
    const dir = mkdtempSync(join(tmpdir(), 'mas-node-serve-'));
    const entry = join(dir, 'index.js');
    writeFileSync(
      entry,
      `import { connect } from 'cloudflare:sockets';
       export default { fetch: (req, env) => new Response(typeof connect + ' ' + env.NAME) };`,
    );
    const child = await startChild<{ url: string }>('serve-node', 'bench/lib/serve-node.mjs', [entry], {
      env: { BENCH_VARS: JSON.stringify({ NAME: 'bundle-env' }) },
    });
    try {
      const res = await fetch(child.info.url);
      expect(await res.text()).toBe('function bundle-env');
    } finally {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('node/serve.mjs closing', () => {
  it('close() stops listening, then waits for the background work answered requests left', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const bg = new Hono();
    bg.get('/', (c) => {
      // A usage batch still to be written when SIGTERM arrives.
      c.executionCtx.waitUntil(gate.then(() => order.push('background done')));
      return c.text('ok');
    });
    const s = await serveNode(bg, { env: {}, port: 0 });
    expect(await (await fetch(s.url, { headers: { connection: 'close' } })).text()).toBe('ok');
    const closing = s.close().then(() => order.push('closed'));
    // Not listening any more, yet close() has not resolved: the background work is pending.
    await expect
      .poll(() =>
        fetch(s.url).then(
          () => 'listening',
          () => 'refused',
        ),
      )
      .toBe('refused');
    expect(order).toEqual([]);
    release();
    await closing;
    expect(order).toEqual(['background done', 'closed']);
  });
});
