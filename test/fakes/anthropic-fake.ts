import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './listen.ts';

/**
 * A local stand-in for Anthropic's Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`),
 * speaking its wire format: JSON bodies, SSE streams with named events (`message_start`,
 * `content_block_*`, `message_delta`, `message_stop`, `ping`, `error`), and errors as
 * `{"type":"error","error":{"type","message"}}`. Like the real API it requires `x-api-key`,
 * `anthropic-version` and `max_tokens`. The requested model picks the behaviour:
 *   any other name   text "Hello from the Anthropic fake." (a tool_result in the last turn is
 *                    answered "Tool said: <its text>")
 *   `tools`          text "Let me check." then tool_use `get_weather` {"city":"Paris"}, id
 *                    `toolu_fake_1` (streamed as input_json_delta in two pieces)
 *   `cached`         usage with cache_read/cache_creation tokens   `refusal`  stop_reason refusal
 *   `rate429`        429 rate_limit_error, `retry-after: 1`      `overloaded`  529 overloaded_error
 *   `bad400`         400 invalid_request_error                   `auth401`  401 authentication_error
 *   `ctx-too-long`   400 "prompt is too long"                    `notfound`  404 not_found_error
 *   `midstream`      streams text, then an `error` event (overloaded_error) instead of the end
 *   `errorfirst`     a 200 stream whose first event is an `error` (overloaded_error)
 *   `stall`          accepts and never answers      `stallstream`  message_start, then silence
 *   `seq:<name>`     the next step of a script set with POST /__scripts/<name> ["529","429","ok"]
 * Every request is recorded: GET /__requests/<model> returns `{ path, body, headers }` for it.
 */
export async function startAnthropicFake(): Promise<{ url: string; close(): Promise<void> }> {
  const scripts = new Map<string, string[]>();
  const received = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const text = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'POST' && url.pathname.startsWith('/__scripts/')) {
      scripts.set(decodeURIComponent(url.pathname.slice('/__scripts/'.length)), JSON.parse(text) as string[]);
      return void res.writeHead(204).end();
    }
    if (req.method === 'GET' && url.pathname.startsWith('/__requests/')) {
      return send(
        res,
        200,
        received.get(decodeURIComponent(url.pathname.slice('/__requests/'.length))) ?? [],
      );
    }
    const isCount = url.pathname === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (url.pathname !== '/v1/messages' && !isCount)) {
      return send(res, 404, apiError('not_found_error', `Unknown path ${url.pathname}`));
    }
    if (!req.headers['x-api-key']) {
      return send(res, 401, apiError('authentication_error', 'x-api-key header is required'));
    }
    if (!req.headers['anthropic-version']) {
      return send(res, 400, apiError('invalid_request_error', 'anthropic-version: header is required'));
    }
    let body: Request;
    try {
      body = JSON.parse(text) as Request;
    } catch {
      return send(
        res,
        400,
        apiError('invalid_request_error', 'There was an issue with the request body: not JSON'),
      );
    }
    const list = received.get(body.model) ?? [];
    list.push({ path: url.pathname, body, headers: req.headers });
    received.set(body.model, list);
    if (isCount)
      return send(res, 200, { input_tokens: Math.ceil(JSON.stringify(body.messages ?? []).length / 4) });
    if (typeof body.max_tokens !== 'number') {
      return send(res, 400, apiError('invalid_request_error', 'max_tokens: Field required'));
    }
    let behaviour = body.model;
    if (behaviour.startsWith('seq:')) behaviour = scripts.get(behaviour.slice(4))?.shift() ?? 'ok';
    switch (behaviour) {
      case '429':
      case 'rate429':
        res.setHeader('retry-after', '1');
        return send(
          res,
          429,
          apiError('rate_limit_error', 'Number of request tokens has exceeded your rate limit.'),
        );
      case '529':
      case 'overloaded':
        return send(res, 529, apiError('overloaded_error', 'Overloaded'));
      case '500':
        return send(res, 500, apiError('api_error', 'Internal server error'));
      case 'bad400':
        return send(
          res,
          400,
          apiError('invalid_request_error', 'temperature: Input should be less than or equal to 1'),
        );
      case 'ctx-too-long':
        return send(
          res,
          400,
          apiError('invalid_request_error', 'prompt is too long: 250000 tokens > 200000 maximum'),
        );
      case 'auth401':
        return send(res, 401, apiError('authentication_error', 'invalid x-api-key'));
      case 'notfound':
        return send(res, 404, apiError('not_found_error', `model: ${body.model}`));
      case 'stall':
        return; // never answers; the socket stays open until the client gives up
      default:
        break;
    }
    const message = answer(body, behaviour);
    if (!body.stream) return send(res, 200, message);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    for (const [event, data] of streamEvents(message, behaviour)) {
      if (event === 'stall') return; // the connection stays open, silent
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      await new Promise((r) => setTimeout(r, 2));
    }
    res.end();
  }

  return listenOnLoopback(server);
}

interface Request {
  model: string;
  max_tokens?: number;
  stream?: boolean;
  messages?: Array<{
    role: string;
    content: string | Array<{ type: string; content?: unknown; text?: string }>;
  }>;
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

function answer(body: Request, behaviour: string) {
  const last = body.messages?.[body.messages.length - 1];
  const toolResult = Array.isArray(last?.content)
    ? last.content.find((b) => b.type === 'tool_result')
    : undefined;
  let content: Block[] = [{ type: 'text', text: 'Hello from the Anthropic fake.' }];
  let stop = 'end_turn';
  if (toolResult) {
    const said =
      typeof toolResult.content === 'string'
        ? toolResult.content
        : ((toolResult.content as Array<{ text?: string }> | undefined) ?? [])
            .map((b) => b.text ?? '')
            .join('');
    content = [{ type: 'text', text: `Tool said: ${said}` }];
  } else if (behaviour === 'tools') {
    content = [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_fake_1', name: 'get_weather', input: { city: 'Paris' } },
    ];
    stop = 'tool_use';
  } else if (behaviour === 'refusal') {
    content = [{ type: 'text', text: 'I cannot help with that.' }];
    stop = 'refusal';
  }
  return {
    id: 'msg_fake0001',
    type: 'message',
    role: 'assistant',
    model: body.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: {
      input_tokens: 12,
      output_tokens: 6,
      cache_read_input_tokens: behaviour === 'cached' ? 100 : 0,
      cache_creation_input_tokens: behaviour === 'cached' ? 20 : 0,
    },
  };
}

/** The message as Anthropic streams it: one block at a time, text and JSON input in pieces. */
function streamEvents(message: ReturnType<typeof answer>, behaviour: string): Array<[string, unknown]> {
  const overloaded = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
  if (behaviour === 'errorfirst') return [['error', overloaded]];
  const events: Array<[string, unknown]> = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { ...message.usage, output_tokens: 1 },
        },
      },
    ],
  ];
  if (behaviour === 'stallstream') return [...events, ['stall', null]];
  events.push(['ping', { type: 'ping' }]);
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      events.push([
        'content_block_start',
        { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      ]);
      const words = block.text.split(/(?<= )/);
      for (const text of words) {
        events.push([
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'text_delta', text } },
        ]);
      }
      if (behaviour === 'midstream') events.push(['error', overloaded]);
    } else {
      events.push([
        'content_block_start',
        { type: 'content_block_start', index, content_block: { ...block, input: {} } },
      ]);
      const json = JSON.stringify(block.input);
      const half = Math.floor(json.length / 2);
      for (const partial_json of [json.slice(0, half), json.slice(half)]) {
        events.push([
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } },
        ]);
      }
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  if (behaviour === 'midstream') return events.slice(0, events.findIndex(([e]) => e === 'error') + 1);
  events.push([
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: message.usage.output_tokens },
    },
  ]);
  events.push(['message_stop', { type: 'message_stop' }]);
  return events;
}

function apiError(type: string, message: string) {
  return { type: 'error', error: { type, message }, request_id: 'req_fake0001' };
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'request-id': 'req_fake0001',
    })
    .end(text);
}
