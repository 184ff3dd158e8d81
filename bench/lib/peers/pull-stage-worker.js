// `npm run bench:instructions -- --pull-stage on`: the passthrough Worker with the least any stream
// stage that sees the bytes does (the `pull` stage of bench:stream-stages): a JavaScript pull source
// enqueueing each read of the upstream body, nothing else. Ours' stream over this side is what ours
// adds beyond the runtime's price for letting JavaScript see each chunk.
export default {
  async fetch(req, env) {
    const { pathname } = new URL(req.url);
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/embeddings'].includes(pathname))
      return new Response('not found', { status: 404 });
    const headers = {
      'content-type': 'application/json',
      authorization: req.headers.get('authorization') ?? '',
    };
    const up = await fetch(env.UPSTREAM + pathname, { method: 'POST', headers, body: req.body });
    if (!up.body || !(up.headers.get('content-type') ?? '').startsWith('text/event-stream')) return up;
    const reader = up.body.getReader();
    const stream = new ReadableStream(
      {
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    });
  },
};
