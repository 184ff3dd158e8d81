/** The Node floor: a bare Hono passthrough on @hono/node-server, the two LLM routes to the fake. */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

export function passthroughApp(upstream: string): Hono {
  const app = new Hono();
  for (const path of ['/v1/chat/completions', '/v1/embeddings']) {
    app.post(path, async (c) => {
      const headers = {
        'content-type': 'application/json',
        authorization: c.req.header('authorization') ?? '',
      };
      return fetch(upstream + path, { method: 'POST', headers, body: await c.req.arrayBuffer() });
    });
  }
  return app;
}

export function servePassthrough(upstream: string, port: number): ReturnType<typeof serve> {
  return serve({ fetch: passthroughApp(upstream).fetch, hostname: '127.0.0.1', port });
}
