/**
 * `npm run bench:chat-stages`: one Worker answering chat and embeddings requests the way a
 * validating gateway must, one step at a time, so each step's CPU on bare workerd is measured
 * apart from ours. The first path segment names the stage (`/read-body/v1/chat/completions`), the
 * rest is the upstream path on the fake. The ladder, each stage its predecessor plus one step:
 *   passthrough      the passthrough Worker's own code (peers/passthrough-worker.js): the incoming
 *                    body stream forwarded, the upstream response returned
 *   body-native      the upstream request made as a Request object in JavaScript first
 *   read-body        the incoming body read into JavaScript (`arrayBuffer`), its bytes forwarded
 *   json             those bytes decoded, `JSON.parse`d and `JSON.stringify`d, the string forwarded
 *   answer-text      the upstream answer read as text and sent in a new Response
 *   read-answer      that text `JSON.parse`d to find the usage
 *   headers          the answer with the 12 headers ours sends beside its content type
 * and three branches off `headers`, then all of them together:
 *   timer            a per-attempt deadline, ours' own: shared/resilience/deadline.ts's
 *                    `callLimit` on the request's signal (the router's plain attempt), which on
 *                    workerd is AbortSignal.timeout and AbortSignal.any since 4eada6f (the run of
 *                    record, on 4770fbc, had deadline()'s AbortController, listener, setTimeout
 *                    and clearTimeout written out here)
 *   validate         the request checked by a zod/mini schema (what ours validates with)
 *   hono             the `headers` steps as a route of a Hono app with one middleware that sets
 *                    the correlation headers after the route, as createApp's pipeline does
 *   minimal-gateway  hono + timer + validate
 * Bundled with esbuild by bench/chat-stages.ts (hono and zod from node_modules).
 */
import { type Context, Hono } from 'hono';
import * as z from 'zod/mini';
import { callLimit } from '../../../shared/resilience/deadline.ts';

interface StageEnv {
  UPSTREAM: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** What ours sets on a chat answer besides content-type and content-length (curl of ours, the bench's chat request). */
function answerHeaders(id: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'server-timing': 'gateway;dur=1.00;desc="mas gateway", upstream;dur=1.00;desc="1 attempt"',
    'x-mas-attempts': '1',
    'x-mas-model': 'fast@local',
    'x-mas-provider': 'local',
    'x-ratelimit-limit': '1000000000',
    'x-ratelimit-limit-requests': '1000000000',
    'x-ratelimit-remaining': '999999999',
    'x-ratelimit-remaining-requests': '999999999',
    'x-ratelimit-reset': '3',
    'x-ratelimit-reset-requests': '2.2s',
  };
  // Hono's middleware sets these two on the Response made by the route, as ours' correlation does.
  if (id !== undefined) {
    headers['x-correlation-id'] = id;
    headers['x-request-id'] = id;
  }
  return headers;
}

/** A request id as cheap as JavaScript makes one (ours draws them from a random pool). */
let sequence = 0;
const nextId = () => (++sequence).toString(16).padStart(32, '0');

const chatSchema = z.looseObject({
  model: z.string(),
  messages: z.array(
    z.looseObject({ role: z.string(), content: z.union([z.string(), z.array(z.unknown()), z.null()]) }),
  ),
  stream: z.optional(z.boolean()),
});
const embedSchema = z.looseObject({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string())]),
});

interface Steps {
  /** Make the upstream request as a Request object (body-native and up). */
  request: boolean;
  /** Read the incoming body into JavaScript. */
  readBody: boolean;
  json: boolean;
  validate: boolean;
  answerText: boolean;
  usage: boolean;
  headers: boolean;
  timer: boolean;
}

const NONE: Steps = {
  request: false,
  readBody: false,
  json: false,
  validate: false,
  answerText: false,
  usage: false,
  headers: false,
  timer: false,
};
const ladder = (n: number): Steps => {
  const order = ['request', 'readBody', 'json', 'answerText', 'usage', 'headers'] as const;
  const steps = { ...NONE };
  for (const s of order.slice(0, n)) steps[s] = true;
  return steps;
};
const HEADERS = ladder(6);

/** The plain (not Hono) stages by name. */
const PLAIN: Record<string, Steps> = {
  passthrough: NONE,
  'body-native': ladder(1),
  'read-body': ladder(2),
  json: ladder(3),
  'answer-text': ladder(4),
  'read-answer': ladder(5),
  headers: HEADERS,
  timer: { ...HEADERS, timer: true },
  validate: { ...HEADERS, validate: true },
};
const HONO: Record<string, Steps> = {
  hono: HEADERS,
  'minimal-gateway': { ...HEADERS, timer: true, validate: true },
};

/** The tokens counted from the answers' usage (kept, so the parse is not dead code). */
let tokens = 0;

type Respond = (text: string, status: number, headers: Record<string, string>) => Response;
const plainResponse: Respond = (text, status, headers) => new Response(text, { status, headers });

/**
 * One request through the steps. The answer is made by `respond` (Hono's route: c.body), with
 * ours' headers under `steps.headers`; in the Hono stages the middleware adds the two ids.
 */
async function forward(
  req: Request,
  upstream: string,
  steps: Steps,
  respond: Respond = plainResponse,
  ids = true,
): Promise<Response> {
  const headers = {
    'content-type': 'application/json',
    authorization: req.headers.get('authorization') ?? '',
  };
  let body: BodyInit | null = req.body;
  if (steps.readBody) {
    const bytes = await req.arrayBuffer();
    body = bytes;
    if (steps.json) {
      const parsed = JSON.parse(utf8.decode(bytes)) as unknown;
      if (steps.validate) (upstream.endsWith('/embeddings') ? embedSchema : chatSchema).parse(parsed);
      body = JSON.stringify(parsed);
    }
  }
  const limit = steps.timer ? callLimit(60_000, req.signal) : undefined;
  const init: RequestInit = { method: 'POST', headers, body };
  if (limit) init.signal = limit.signal;
  try {
    const up = await (steps.request ? fetch(new Request(upstream, init)) : fetch(upstream, init));
    if (!steps.answerText) return up;
    const text = await up.text();
    if (steps.usage) {
      const usage = (JSON.parse(text) as { usage?: { total_tokens?: number } }).usage;
      tokens += usage?.total_tokens ?? 0;
    }
    return respond(
      text,
      up.status,
      steps.headers ? answerHeaders(ids ? nextId() : undefined) : { 'content-type': 'application/json' },
    );
  } finally {
    limit?.dispose();
  }
}

/** createApp-like: one middleware around the route, setting the correlation headers after it. */
const app = new Hono<{ Bindings: StageEnv }>();
app.use(async (c, next) => {
  const id = nextId();
  await next();
  c.header('x-correlation-id', id);
  c.header('x-request-id', id);
});
const route = (steps: Steps) => (c: Context<{ Bindings: StageEnv }>) => {
  const path = c.req.path;
  const respond: Respond = (text, status, headers) => c.body(text, status as 200, headers);
  return forward(c.req.raw, c.env.UPSTREAM + path.slice(path.indexOf('/v1/')), steps, respond, false);
};
for (const [name, steps] of Object.entries(HONO)) {
  app.post(`/${name}/v1/chat/completions`, route(steps));
  app.post(`/${name}/v1/embeddings`, route(steps));
}

export default {
  fetch(req: Request, env: StageEnv, ctx: ExecutionContext): Response | Promise<Response> {
    const { pathname } = new URL(req.url);
    const cut = pathname.indexOf('/', 1);
    const stage = pathname.slice(1, cut);
    const rest = pathname.slice(cut);
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/embeddings'].includes(rest)) {
      // bench/lib/runtimes.ts' workerd-raw waits for a 200 here.
      if (pathname === '/health') return new Response('ok');
      return new Response('not found', { status: 404 });
    }
    const plain = PLAIN[stage];
    if (plain) return forward(req, env.UPSTREAM + rest, plain);
    if (HONO[stage]) return app.fetch(req, env, ctx);
    return new Response(`no stage ${stage} (${tokens} tokens counted so far)`, { status: 404 });
  },
};
