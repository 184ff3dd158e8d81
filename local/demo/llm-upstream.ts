import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BodyTooLarge, listenOnLoopback, readBody, sendJson } from './http.ts';

/**
 * The demo LLM upstream `npm start` runs when no provider key and no LLM_BASE_URL is set: an
 * OpenAI-compatible server (Chat Completions plain and streamed, legacy Completions, Embeddings,
 * Models) with canned answers, so a newcomer sees the whole flow with no model behind it. The
 * gateway sends it every role (`openai_compatible`), and translates the Responses and Messages
 * APIs to Chat Completions for it.
 *
 * It keeps nothing per request (a long-running `npm start` must not grow), takes bodies up to
 * 4 MiB, and answers in OpenAI's wire format, errors included.
 */
export const DEMO_REPLY = 'Hello from the demo upstream.';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const CREATED = 1_764_000_000;
const USAGE = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 };

export async function startDemoUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BodyTooLarge) return sendJson(res, 413, apiError('Request body too large.'));
      sendJson(res, 400, apiError('We could not parse the JSON body of your request.'));
    });
  });
  return listenOnLoopback(server);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://demo').pathname;
  if (req.method === 'GET' && path === '/v1/models') {
    return sendJson(res, 200, {
      object: 'list',
      data: [{ id: 'demo', object: 'model', created: CREATED, owned_by: 'mas-functions-demo' }],
    });
  }
  if (req.method !== 'POST') return sendJson(res, 404, apiError(`Unknown path ${path}`));
  const body = JSON.parse(await readBody(req, MAX_BODY_BYTES)) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string')
    return sendJson(res, 400, apiError("'model' is required.", 'model'));
  switch (path) {
    case '/v1/chat/completions':
      return chat(res, body);
    case '/v1/completions':
      return completions(res, body);
    case '/v1/embeddings':
      return embeddings(res, body);
    default:
      return sendJson(res, 404, apiError(`Unknown path ${path}`));
  }
}

interface ToolDecl {
  type?: string;
  function?: { name?: string };
}

/**
 * A text answer; with `tools` and no tool result yet, a call of the first tool with `{}` (so the
 * README's tool loop runs); JSON when a JSON response_format is asked for.
 */
function chat(res: ServerResponse, body: Record<string, unknown>) {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string }>) : [];
  const tools = Array.isArray(body.tools) ? (body.tools as ToolDecl[]) : [];
  const tool = messages.at(-1)?.role === 'tool' ? undefined : tools.find((t) => t.function?.name);
  const format = (body.response_format as { type?: string } | undefined)?.type ?? 'text';
  const text = format.startsWith('json') ? '{"demo":true}' : DEMO_REPLY;
  const base = { id: `chatcmpl-demo${Date.now()}`, created: CREATED, model: body.model };
  const call = tool && {
    id: 'call_demo_1',
    type: 'function',
    function: { name: tool.function?.name, arguments: '{}' },
  };
  if (body.stream !== true) {
    return sendJson(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: call
            ? { role: 'assistant', content: null, refusal: null, tool_calls: [call] }
            : { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: call ? 'tool_calls' : 'stop',
        },
      ],
      usage: USAGE,
    });
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const deltas: unknown[] = call
    ? [
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...call }] }),
        chunk({}, 'tool_calls'),
      ]
    : [
        chunk({ role: 'assistant', content: '' }),
        ...words(text).map((w) => chunk({ content: w })),
        chunk({}, 'stop'),
      ];
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
  if (includeUsage) deltas.push({ ...base, object: 'chat.completion.chunk', choices: [], usage: USAGE });
  stream(res, deltas);
}

function completions(res: ServerResponse, body: Record<string, unknown>) {
  const prompts =
    Array.isArray(body.prompt) && body.prompt.some((p) => typeof p !== 'number')
      ? body.prompt
      : [body.prompt];
  const base = {
    id: `cmpl-demo${Date.now()}`,
    object: 'text_completion',
    created: CREATED,
    model: body.model,
  };
  const usage = {
    prompt_tokens: 3 * prompts.length,
    completion_tokens: 5 * prompts.length,
    total_tokens: 8 * prompts.length,
  };
  if (body.stream !== true) {
    return sendJson(res, 200, {
      ...base,
      choices: prompts.map((_, index) => ({
        text: DEMO_REPLY,
        index,
        logprobs: null,
        finish_reason: 'stop',
      })),
      usage,
    });
  }
  const choice = (text: string, finish: string | null = null) => ({
    ...base,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
  });
  const events: unknown[] = [...words(DEMO_REPLY).map((w) => choice(w)), choice('', 'stop')];
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage)
    events.push({ ...base, choices: [], usage });
  stream(res, events);
}

/**
 * As OpenAI: a string, strings, token ids or token-id arrays, one vector per input; `dimensions`
 * (else the trailing number of the model name, else 8); base64 is little-endian float32.
 */
function embeddings(res: ServerResponse, body: Record<string, unknown>) {
  const input = body.input;
  const inputs: Array<string | number[]> =
    typeof input === 'string'
      ? [input]
      : Array.isArray(input) && input.every((i) => typeof i === 'number')
        ? [input as number[]]
        : Array.isArray(input)
          ? (input as Array<string | number[]>)
          : [];
  if (inputs.length === 0) return sendJson(res, 400, apiError("'input' is required.", 'input'));
  sendJson(res, 200, embeddingsAnswer(inputs, body));
}

/**
 * The answer to an embeddings request whose inputs are `inputs`: one `demoVector` per input
 * (token ids hashed as `tokens:<ids>`), base64 when asked, a token per word or id. The test
 * fake (test/fakes/openai-fake.ts) answers the same.
 */
export function embeddingsAnswer(
  inputs: Array<string | number[]>,
  body: { model?: unknown; dimensions?: unknown; encoding_format?: unknown },
) {
  const dim = Number(body.dimensions ?? /(\d+)$/.exec(String(body.model))?.[1] ?? 8);
  const tokens = inputs.reduce((n, i) => n + (typeof i === 'string' ? i.split(/\s+/).length : i.length), 0);
  return {
    object: 'list',
    data: inputs.map((item, index) => {
      const vector = demoVector(typeof item === 'string' ? item : `tokens:${item.join(',')}`, dim);
      return {
        object: 'embedding',
        index,
        embedding:
          body.encoding_format === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector,
      };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function stream(res: ServerResponse, events: unknown[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.end(`${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`);
}

function words(text: string): string[] {
  const [head = '', ...rest] = text.split(' ');
  return [head, ...rest.map((w) => ` ${w}`)];
}

/** A deterministic vector per text: the same text always maps to the same vector. */
export function demoVector(text: string, dim: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return Array.from({ length: dim }, (_, i) => {
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
    return Math.round(((h % 2000) / 1000 - 1) * 1e6) / 1e6;
  });
}

function apiError(message: string, param: string | null = null) {
  return { error: { message, type: 'invalid_request_error', param, code: null } };
}
