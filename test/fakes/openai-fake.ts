import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { embeddingsAnswer } from '../../local/demo/llm-upstream.ts';
import { listenOnLoopback, readBody } from './listen.ts';

/**
 * A local stand-in for the OpenAI Chat Completions API, speaking its wire format (JSON and SSE).
 * The requested upstream model name picks the behaviour:
 *   `ok`            a completion ("Hello from the fake."), streamed as 4 chunks plus a usage chunk
 *   `tools`         a tool call (`get_weather`, id `call_fake_1`)
 *   `fail500`       500 server_error        `bad400`  400 invalid_request_error (not retryable)
 *   `ctx-too-long`  400 context_length_exceeded   `auth401`  401 invalid_api_key
 *   `rate429`       429 with `Retry-After: 1`      `stall`  accepts and never answers
 *   `midstream`     streams two chunks, then drops the connection
 *   `stallstream`   streams two chunks, then silence with the connection open (never ends)
 *   `empty`         a 200 stream with no chunk at all: only `data: [DONE]`
 *   `bad-tool-calls`  streams, in one write, a content chunk ("Hel"), then one whose
 *                   `delta.tool_calls` is an object (a chunk a translator cannot read), then [DONE]
 *   `reset`         drops the connection before any response byte (a reset, as a crashing proxy does)
 *   `endless`       a body that never ends: JSON that never closes, or (streamed) two chunks and then
 *                   an event that never ends; written for as long as the client reads
 *   `slowstream`    streams for 5 s and records (`aborted`) whether the client left early
 *   `seq:<name>`    the next step of a script set with POST /__scripts/<name> ["500","429","ok"]
 *   `mode:<name>`   the behaviour last set with POST /__modes/<name> "500" (default `ok`): an
 *                   upstream that goes down and comes back while the test runs
 *   `random:<pct>[:<tag>]`  500 for pct % of requests at random, else `ok`
 *   `429:<s>`       429 with `Retry-After: <s>`   `delay:<ms>`  `ok` after ms
 *   `stall`, `stallstream`, `slowstream` and `endless` record `closedAt` (epoch ms) when the client's connection closes
 * Embeddings take every OpenAI input form (text, texts, token ids, token-id arrays), `dimensions`
 * (else the trailing number of the model name, else 8) and `encoding_format: "base64"`
 * (little-endian float32, as OpenAI).
 * POST /v1/responses speaks the Responses API (JSON and its SSE event sequence) for `ok`, `tools`
 * (a function call, then text once its output comes back), `midstream` and the failures.
 * POST /v1/completions answers legacy Completions (one choice per prompt, streamed too).
 * Every request is recorded: GET /__requests/<model> returns the bodies received for that model.
 */
export async function startOpenAIFake(): Promise<{ url: string; close(): Promise<void> }> {
  const scripts = new Map<string, string[]>();
  const modes = new Map<string, string>();
  const received = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'POST' && url.pathname.startsWith('/__scripts/')) {
      scripts.set(decodeURIComponent(url.pathname.slice('/__scripts/'.length)), JSON.parse(body) as string[]);
      return send(res, 204, null);
    }
    if (req.method === 'POST' && url.pathname.startsWith('/__modes/')) {
      modes.set(decodeURIComponent(url.pathname.slice('/__modes/'.length)), JSON.parse(body) as string);
      return send(res, 204, null);
    }
    if (req.method === 'GET' && url.pathname.startsWith('/__requests/')) {
      return send(
        res,
        200,
        received.get(decodeURIComponent(url.pathname.slice('/__requests/'.length))) ?? [],
      );
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return send(res, 200, {
        object: 'list',
        data: [{ id: 'ok', object: 'model', created: CREATED, owned_by: 'fake' }],
      });
    }
    if (req.method === 'POST' && url.pathname === '/v1/embeddings') {
      const request = JSON.parse(body) as {
        model: string;
        input: string | string[] | number[] | number[][];
        encoding_format?: 'float' | 'base64';
        dimensions?: number;
      };
      const list = received.get(request.model) ?? [];
      list.push({ body: request, headers: req.headers });
      received.set(request.model, list);
      if (request.model === 'fail500')
        return send(res, 500, apiError('The server had an error.', 'server_error'));
      // As OpenAI: a string, strings, token ids, or token-id arrays; one vector per input.
      const input = request.input;
      const inputs: Array<string | number[]> =
        typeof input === 'string'
          ? [input]
          : input.every((i) => typeof i === 'number')
            ? [input as number[]]
            : (input as Array<string | number[]>);
      return send(res, 200, embeddingsAnswer(inputs, request));
    }
    if (req.method === 'POST' && url.pathname === '/v1/responses') return responses(req, res, body);
    if (req.method === 'POST' && url.pathname === '/v1/completions') return completions(req, res, body);
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      return send(res, 404, {
        error: { message: 'Unknown path', type: 'invalid_request_error', code: null, param: null },
      });
    }
    const request = JSON.parse(body) as { model: string; stream?: boolean; messages: unknown[] };
    const list = received.get(request.model) ?? [];
    list.push({ body: request, headers: req.headers });
    received.set(request.model, list);
    let behaviour = request.model;
    if (behaviour.startsWith('seq:')) behaviour = scripts.get(behaviour.slice(4))?.shift() ?? 'ok';
    if (behaviour.startsWith('mode:')) behaviour = modes.get(behaviour.slice(5)) ?? 'ok';
    if (behaviour.startsWith('random:')) {
      behaviour = Math.random() * 100 < Number(behaviour.split(':')[1]) ? '500' : 'ok';
    }
    if (behaviour.startsWith('delay:')) {
      await new Promise((r) => setTimeout(r, Number(behaviour.slice(6))));
      behaviour = 'ok';
    }
    if (behaviour.startsWith('429:')) {
      res.setHeader('retry-after', behaviour.slice(4));
      return send(res, 429, apiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'));
    }
    if (
      behaviour === 'stall' ||
      behaviour === 'stallstream' ||
      behaviour === 'slowstream' ||
      behaviour === 'endless'
    ) {
      const record = list[list.length - 1] as Record<string, unknown>;
      res.on('close', () => {
        record.closedAt = Date.now();
      });
    }
    switch (behaviour) {
      case '500':
      case 'fail500':
        return send(
          res,
          500,
          apiError('The server had an error while processing your request.', 'server_error'),
        );
      case '429':
      case 'rate429':
        res.setHeader('retry-after', '1');
        return send(res, 429, apiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'));
      case 'bad400':
        return send(
          res,
          400,
          apiError(
            "Invalid value for 'temperature'.",
            'invalid_request_error',
            'invalid_value',
            'temperature',
          ),
        );
      case 'ctx-too-long':
        return send(
          res,
          400,
          apiError(
            "This model's maximum context length is 8192 tokens.",
            'invalid_request_error',
            'context_length_exceeded',
            'messages',
          ),
        );
      case 'auth401':
        return send(
          res,
          401,
          apiError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
        );
      case 'stall':
        return; // never answers; the socket stays open until the client gives up
      case 'reset':
        req.socket.destroy();
        return;
      case 'endless': {
        const chunks = streamChunks(request.model);
        res.writeHead(200, { 'content-type': request.stream ? 'text/event-stream' : 'application/json' });
        res.write(
          request.stream
            ? `data: ${JSON.stringify(chunks[0])}\n\ndata: ${JSON.stringify(chunks[1])}\n\ndata: {"pad":"`
            : '{"id":"endless","pad":"',
        );
        const piece = 'x'.repeat(16 * 1024);
        const more = () => {
          while (!res.destroyed && res.write(piece)) {}
          if (!res.destroyed) res.once('drain', more);
        };
        return more();
      }
      default:
        break;
    }
    // `tools` calls get_weather, and answers in text once the call's result comes back.
    const answered = (request.messages.at(-1) as { role?: string } | undefined)?.role === 'tool';
    const tools = behaviour === 'tools' && !answered;
    // Structured output: a JSON answer when a JSON response_format is asked for.
    const json = Boolean(
      (request as { response_format?: { type?: string } }).response_format?.type?.startsWith('json'),
    );
    if (!request.stream) return send(res, 200, completion(request.model, tools, json, answered));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    if (behaviour === 'slowstream') {
      // 50 chunks, 100 ms apart; records whether the client went away before the end.
      const record = list[list.length - 1] as Record<string, unknown>;
      record.aborted = false;
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      for (let i = 0; i < 50 && !res.destroyed; i++) {
        res.write(`data: ${JSON.stringify(streamChunks(request.model)[1])}\n\n`);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!res.destroyed) res.end('data: [DONE]\n\n');
      return;
    }
    if (behaviour === 'empty') return void res.end('data: [DONE]\n\n');
    if (behaviour === 'bad-tool-calls') {
      // One write, so the worker reads the good chunk and the broken one together.
      const id = 'chatcmpl-fake0003';
      const good = { id, choices: [{ index: 0, delta: { content: 'Hel' } }] };
      const broken = { id, choices: [{ index: 0, delta: { tool_calls: {} } }] };
      return void res.end(
        `data: ${JSON.stringify(good)}\n\ndata: ${JSON.stringify(broken)}\n\ndata: [DONE]\n\n`,
      );
    }
    const chunks = streamChunks(request.model, tools);
    for (const [i, chunk] of chunks.entries()) {
      if (behaviour === 'stallstream' && i === 2) return; // silent from here, the connection open
      if (behaviour === 'midstream' && i === 2) {
        res.destroy();
        return;
      }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    res.end('data: [DONE]\n\n');
  }

  /**
   * OpenAI's Responses API: `ok` answers "Hello from the fake." (message item), `tools` a
   * get_weather function call (call_id `call_fake_1`), or, when the input ends with that call's
   * output, "It is sunny in Paris."; failures as for chat. Streams follow OpenAI's event order.
   */
  async function responses(req: IncomingMessage, res: ServerResponse, body: string) {
    const request = JSON.parse(body) as { model: string; stream?: boolean; input: unknown };
    const list = received.get(request.model) ?? [];
    list.push({ body: request, headers: req.headers });
    received.set(request.model, list);
    let behaviour = request.model;
    if (behaviour.startsWith('seq:')) behaviour = scripts.get(behaviour.slice(4))?.shift() ?? 'ok';
    if (behaviour === '500' || behaviour === 'fail500')
      return send(
        res,
        500,
        apiError('The server had an error while processing your request.', 'server_error'),
      );
    if (behaviour === '429' || behaviour === 'rate429') {
      res.setHeader('retry-after', '1');
      return send(res, 429, apiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'));
    }
    if (behaviour === 'stall') return;
    const input = Array.isArray(request.input) ? (request.input as Array<{ type?: string }>) : [];
    const answered = input.at(-1)?.type === 'function_call_output';
    const json = Boolean(
      (request as { text?: { format?: { type?: string } } }).text?.format?.type?.startsWith('json'),
    );
    const call = behaviour === 'tools' && !answered;
    const id = `resp_fake${crypto.randomUUID().replaceAll('-', '')}`;
    const item = call
      ? {
          id: 'fc_fake_1',
          type: 'function_call',
          status: 'completed',
          call_id: 'call_fake_1',
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
        }
      : {
          id: 'msg_fake_1',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [
            {
              type: 'output_text',
              text: answered ? 'It is sunny in Paris.' : json ? JSON_ANSWER : 'Hello from the fake.',
              annotations: [],
              logprobs: [],
            },
          ],
        };
    const response = (status: string, output: unknown[]) => ({
      id,
      object: 'response',
      created_at: CREATED,
      status,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: null,
      max_output_tokens: null,
      model: request.model,
      output,
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: false,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: 1,
      truncation: 'disabled',
      ...(status === 'completed'
        ? {
            usage: {
              input_tokens: 9,
              input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
              output_tokens: 5,
              output_tokens_details: { reasoning_tokens: 0 },
              total_tokens: 14,
            },
          }
        : {}),
      metadata: {},
    });
    if (!request.stream) return send(res, 200, response('completed', [item]));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let seq = 0;
    const write = (type: string, fields: Record<string, unknown>) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`);
    write('response.created', { response: response('in_progress', []) });
    write('response.in_progress', { response: response('in_progress', []) });
    if (item.type === 'function_call') {
      write('response.output_item.added', {
        output_index: 0,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      for (const delta of ['{"city":', '"Paris"}']) {
        write('response.function_call_arguments.delta', { item_id: item.id, output_index: 0, delta });
      }
      write('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: 0,
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      });
    } else {
      const text = (item.content as Array<{ text: string }>)[0]!.text;
      const ref = { item_id: item.id, output_index: 0, content_index: 0 };
      write('response.output_item.added', {
        output_index: 0,
        item: { ...item, status: 'in_progress', content: [] },
      });
      write('response.content_part.added', {
        ...ref,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      });
      const [head, ...rest] = text.split(' ');
      for (const [i, delta] of [head!, ...rest.map((w) => ` ${w}`)].entries()) {
        if (behaviour === 'midstream' && i === 2) return void res.destroy();
        write('response.output_text.delta', { ...ref, delta, logprobs: [] });
        await new Promise((r) => setTimeout(r, 2));
      }
      write('response.output_text.done', { ...ref, text, logprobs: [] });
      write('response.content_part.done', { ...ref, part: (item as { content: unknown[] }).content[0] });
    }
    write('response.output_item.done', { output_index: 0, item });
    write('response.completed', { response: response('completed', [item]) });
    res.end();
  }

  /**
   * Legacy Completions: one choice per prompt ("Hello from the fake.", or, with a suffix, text
   * that ends where the suffix begins), streamed as text_completion chunks (usage chunk only with
   * stream_options.include_usage); `fail500`, `rate429` as for chat.
   */
  async function completions(req: IncomingMessage, res: ServerResponse, body: string) {
    const request = JSON.parse(body) as {
      model: string;
      prompt: unknown;
      suffix?: string;
      stream?: boolean;
      stream_options?: { include_usage?: boolean };
    };
    const list = received.get(request.model) ?? [];
    list.push({ body: request, headers: req.headers });
    received.set(request.model, list);
    if (request.model === 'fail500')
      return send(res, 500, apiError('The server had an error.', 'server_error'));
    if (request.model === 'rate429') {
      res.setHeader('retry-after', '1');
      return send(res, 429, apiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'));
    }
    const prompts =
      Array.isArray(request.prompt) && request.prompt.some((p) => typeof p !== 'number')
        ? request.prompt
        : [request.prompt];
    const text = request.suffix ? 'Hello from the fake, up to the suffix' : 'Hello from the fake.';
    const usage = {
      prompt_tokens: 3 * prompts.length,
      completion_tokens: 5 * prompts.length,
      total_tokens: 8 * prompts.length,
    };
    const base = { id: 'cmpl-fake0001', object: 'text_completion', created: CREATED, model: request.model };
    if (!request.stream) {
      return send(res, 200, {
        ...base,
        choices: prompts.map((_, index) => ({ text, index, logprobs: null, finish_reason: 'stop' })),
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const piece of ['Hello', ' from the fake.']) {
      res.write(
        `data: ${JSON.stringify({ ...base, choices: [{ text: piece, index: 0, logprobs: null, finish_reason: null }] })}\n\n`,
      );
    }
    res.write(
      `data: ${JSON.stringify({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] })}\n\n`,
    );
    if (request.stream_options?.include_usage)
      res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  return listenOnLoopback(server);
}

const CREATED = 1_764_000_000;

const JSON_ANSWER = '{"city":"Paris","sky":"sunny"}';

function completion(model: string, tools: boolean, json = false, answered = false) {
  return {
    id: 'chatcmpl-fake0001',
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [
      {
        index: 0,
        message: tools
          ? {
              role: 'assistant',
              content: null,
              refusal: null,
              tool_calls: [
                {
                  id: 'call_fake_1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                },
              ],
            }
          : {
              role: 'assistant',
              content: json ? JSON_ANSWER : answered ? 'It is sunny in Paris.' : 'Hello from the fake.',
              refusal: null,
            },
        logprobs: null,
        finish_reason: tools ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
    system_fingerprint: 'fp_fake',
  };
}

function streamChunks(model: string, tools = false) {
  const base = {
    id: 'chatcmpl-fake0002',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: 'fp_fake',
  };
  const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }],
  });
  const usage = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 };
  if (tools) {
    // As OpenAI streams a call: id and name first, then the arguments in pieces.
    const call = (d: Record<string, unknown>) => delta({ tool_calls: [{ index: 0, ...d }] });
    return [
      delta({ role: 'assistant', content: null }),
      call({ id: 'call_fake_1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
      call({ function: { arguments: '{"city":' } }),
      call({ function: { arguments: '"Paris"}' } }),
      delta({}, 'tool_calls'),
      { ...base, choices: [], usage },
    ];
  }
  return [
    delta({ role: 'assistant', content: '' }),
    delta({ content: 'Hello' }),
    delta({ content: ' from the fake.' }),
    delta({}, 'stop'),
    { ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } },
  ];
}

function apiError(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

function send(res: ServerResponse, status: number, body: unknown) {
  if (body === null) return void res.writeHead(status).end();
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** A deterministic unit-ish vector per text: the same text always maps to the same vector. */
export { demoVector as fakeEmbedding } from '../../local/demo/llm-upstream.ts';
