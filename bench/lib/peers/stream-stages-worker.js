// `npm run bench:stream-stages`: one SSE stream from the fake upstream forwarded by bare workerd
// in several ways, chosen by the path, so what a stage costs is measured apart from the gateway.
// `tap.js` is shared/llm/providers/openai/openai-stream-tap.ts, bundled by bench/stream-stages.ts.
import { tapResponse } from './tap.js';

const SSE = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** The stages; each answers the same upstream stream. */
const STAGES = {
  // The passthrough Worker's own stream: the upstream response returned as is.
  passthrough: (up) => up,
  // The upstream body in a new Response: still no JavaScript per chunk.
  native: (up) => new Response(up.body, { headers: SSE }),
  // The least a stage that sees the bytes can do: a pull source enqueueing each read, nothing else.
  pull: (up) => {
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
    return new Response(stream, { headers: SSE });
  },
  // The bytes go out natively, JavaScript reads a copy (tee) chunk by chunk: the read side alone.
  tee: (up, ctx) => {
    const [out, copy] = up.body.tee();
    const reader = copy.getReader();
    ctx.waitUntil(
      (async () => {
        for (let next = await reader.read(); !next.done; next = await reader.read());
      })(),
    );
    return new Response(out, { headers: SSE });
  },
  // Ours: the gateway's tap (first event primed, usage withheld and read, error framing, idle timer).
  tap: (up, _ctx, req) => tapResponse(up, req.signal, SSE),
};

export default {
  async fetch(req, env, ctx) {
    const stage = STAGES[new URL(req.url).pathname.slice(1)];
    if (!stage || req.method !== 'POST') return new Response('not found', { status: 404 });
    const up = await fetch(`${env.UPSTREAM}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: req.body,
    });
    return stage(up, ctx, req);
  },
};
