import { beforeAll, describe, expect, inject, it } from 'vitest';
import app from '../../functions/index.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { bearer, call, type KEYS, testEnv } from './helpers.ts';

// Bad input at every docs/API.md endpoint, through the combined deployment: each case gets its
// documented 4xx in the OpenAI error shape, and nothing is written (no ledger row, no action, no
// approval) and no upstream (LLM, integration) receives a request. Each request carries its own
// correlation id, which every ledger row and every upstream call would carry, so "nothing" is
// checked per request even while other test files write to the same database.

type Role = keyof typeof KEYS;
const openaiFake = inject('openaiFakeUrl');
const integrationsFake = inject('integrationsFakeUrl');

const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${openaiFake}/v1, api_key_env: FAKE_KEY, timeout_ms: 1500 }
models:
  - { id: bad-chat, provider: fake, upstream: badinput-chat, capabilities: [chat, tools], context_window: 8192 }
  - { id: bad-embed, provider: fake, upstream: badinput-embed-8, capabilities: [embeddings], context_window: 8192, dimension: 8 }
roles:
  planning: [bad-chat]
  embedding: [bad-embed]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 50 }
  retry_after_cap_ms: 1000
  deadline_ms: 4000
  circuit_breaker: { failure_threshold: 100, window_ms: 60000, open_ms: 60000 }
`;

const MCP_YAML = `
servers:
  files:
    url: ${inject('mcpFakeUrl')}/mcp
    allow: [read_file]
    tools:
      read_file: { category: read }
`;

const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    MINDEX_API_URL: `${integrationsFake}/mindex`,
    MINDEX_API_KEY: 'mindex-secret-key-4f8Kq2Lm9Xv7Rt1Y',
    QDRANT_URL: undefined,
    MAS_MCP_YAML: MCP_YAML,
  });

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return withPostgres(
    getSettings(await env()),
    async (client) => (await client.query(text, params)).rows as T[],
  );
}

/** Rows in the ledger, actions and approvals written under this correlation id. */
async function writtenUnder(correlationId: string): Promise<number> {
  const [row] = await sql<{ n: number }>(
    `select (select count(*) from audit.action_logs where correlation_id = $1)
          + (select count(*) from audit.actions where correlation_id = $1)
          + (select count(*) from audit.approvals ap join audit.actions a using (action_id)
              where a.correlation_id = $1) as n`,
    [correlationId],
  );
  return Number(row!.n);
}

/** Requests an upstream fake received carrying this correlation id. */
async function upstreamCallsUnder(correlationId: string): Promise<number> {
  const lists = await Promise.all(
    [
      `${openaiFake}/__requests/badinput-chat`,
      `${openaiFake}/__requests/badinput-embed-8`,
      `${integrationsFake}/__requests`,
    ].map(async (url) => (await (await fetch(url)).json()) as Array<{ headers: Record<string, string> }>),
  );
  return lists.flat().filter((r) => r.headers['x-correlation-id'] === correlationId).length;
}

interface Case {
  name: string;
  method?: string;
  /** A function for paths that name the action or approval made in beforeAll. */
  path: string | (() => string);
  /** Who calls; null: no Authorization header. */
  role?: Role | null;
  /** An object is sent as JSON; a string or bytes as they are. */
  body?: unknown;
  contentType?: string | null;
  headers?: Record<string, string>;
  status: number;
  code?: string;
  param?: string | null;
}

const ids = { action: '', approval: '' };
const action = (over: Record<string, unknown> = {}) => ({
  agent_id: 'bad-input-bot',
  agent_name: 'Bad Input Bot',
  action_type: 'search',
  category: 'read',
  inputs: { q: 'x' },
  ...over,
});
const chatBody = (over: Record<string, unknown> = {}) => ({
  model: 'planning',
  messages: [{ role: 'user', content: 'hi' }],
  ...over,
});
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const INVALID_UTF8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]);
const OVER_256K = JSON.stringify(action({ inputs: { blob: 'x'.repeat(300_000) } }));
const OVER_4M = JSON.stringify({ actions: [action({ inputs: { blob: 'x'.repeat(4_300_000) } })] });
const OVER_1M = JSON.stringify(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] }));

/** The same generic attacks on every JSON endpoint. */
function generic(path: string, limitBody: string, method = 'POST', role: Role = 'agent'): Case[] {
  return [
    { name: 'malformed JSON', path, method, role, body: '{"a": [1, 2', status: 400, code: 'invalid_json' },
    { name: 'a bare string', path, method, role, body: '"just text"', status: 400, code: 'invalid_request' },
    { name: 'an array', path, method, role, body: '[1,2,3]', status: 400, code: 'invalid_request' },
    { name: 'null', path, method, role, body: 'null', status: 400, code: 'invalid_request' },
    { name: 'an empty body', path, method, role, body: '', status: 400, code: 'invalid_json' },
    { name: 'missing fields', path, method, role, body: {}, status: 400, code: 'invalid_request' },
    { name: 'invalid UTF-8', path, method, role, body: INVALID_UTF8, status: 400, code: 'invalid_encoding' },
    {
      name: 'a UTF-16 body',
      path,
      method,
      role,
      body: new Uint8Array([0xff, 0xfe, 0x7b, 0, 0x7d, 0]),
      status: 400,
    },
    {
      name: '100,000 levels of nesting',
      path,
      method,
      role,
      body: nested(100_000),
      status: 400,
      code: 'invalid_request',
    },
    {
      name: 'a body over the limit',
      path,
      method,
      role,
      body: limitBody,
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'text/plain',
      path,
      method,
      role,
      body: '{}',
      contentType: 'text/plain',
      status: 415,
      code: 'unsupported_media_type',
    },
    { name: 'no key', path, method, role: null, body: {}, status: 401, code: 'invalid_api_key' },
    {
      name: 'a wrong key',
      path,
      method,
      body: {},
      headers: { authorization: 'Bearer mas_not_a_key_000000000000000' },
      role: null,
      status: 401,
    },
  ];
}

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

function cases(): Case[] {
  const audit = '/v1/audit/actions';
  const patchPath = () => `/v1/audit/actions/${ids.action}`;
  const decision = () => `/v1/approvals/${ids.approval}/decision`;
  return [
    // chat
    ...generic('/v1/chat/completions', OVER_1M).map((c) => ({ ...c, name: `chat: ${c.name}` })),
    {
      name: 'chat: an approver key',
      path: '/v1/chat/completions',
      role: 'approver',
      body: chatBody(),
      status: 403,
    },
    {
      name: 'chat: messages not a list',
      path: '/v1/chat/completions',
      body: chatBody({ messages: 'hi' }),
      status: 400,
      param: 'messages',
    },
    {
      name: 'chat: no messages',
      path: '/v1/chat/completions',
      body: chatBody({ messages: [] }),
      status: 400,
      param: 'messages',
    },
    {
      name: 'chat: a message without role',
      path: '/v1/chat/completions',
      body: chatBody({ messages: [{ content: 'hi' }] }),
      status: 400,
      param: 'messages.0.role',
    },
    {
      name: 'chat: an unknown role',
      path: '/v1/chat/completions',
      body: chatBody({ messages: [{ role: 'root', content: 'hi' }] }),
      status: 400,
      param: 'messages.0.role',
    },
    {
      name: 'chat: an unknown model',
      path: '/v1/chat/completions',
      body: chatBody({ model: 'gpt-9-ultra' }),
      status: 404,
      code: 'model_not_found',
    },
    {
      name: 'chat: an unknown role name',
      path: '/v1/chat/completions',
      body: chatBody({ model: 'role:nobody' }),
      status: 404,
      code: 'model_not_found',
    },
    // Names looked up by the caller's string: Object.prototype's members are no model or role.
    ...PROTOTYPE_NAMES.flatMap((name): Case[] => [
      {
        name: `chat: model '${name}'`,
        path: '/v1/chat/completions',
        body: chatBody({ model: name }),
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `chat: model 'role:${name}'`,
        path: '/v1/chat/completions',
        body: chatBody({ model: `role:${name}` }),
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `chat: x-mas-role '${name}'`,
        path: '/v1/chat/completions',
        body: chatBody({ model: undefined }),
        headers: { 'x-mas-role': name },
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `responses: model '${name}'`,
        path: '/v1/responses',
        body: { model: name, input: 'hi' },
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `responses: x-mas-role '${name}'`,
        path: '/v1/responses',
        body: { input: 'hi' },
        headers: { 'x-mas-role': name },
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `responses: previous_response_id '${name}'`,
        path: '/v1/responses',
        body: { model: 'planning', input: 'hi', previous_response_id: name },
        status: 404,
        code: 'response_not_found',
      },
      ...(
        [
          ['GET', `/v1/responses/${name}`],
          ['DELETE', `/v1/responses/${name}`],
          ['GET', `/v1/responses/${name}/input_items`],
        ] as const
      ).map(
        ([method, path]): Case => ({
          name: `responses: ${method} ${path}`,
          method,
          path,
          status: 404,
          code: 'response_not_found',
        }),
      ),
      {
        name: `completions: model 'role:${name}'`,
        path: '/v1/completions',
        body: { model: `role:${name}`, prompt: 'hi' },
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `models: GET /v1/models/${name}`,
        method: 'GET',
        path: `/v1/models/${name}`,
        status: 404,
        code: 'model_not_found',
      },
      {
        name: `mcp: server '${name}'`,
        path: `/mcp/${name}`,
        body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        headers: { accept: 'application/json, text/event-stream' },
        status: 404,
        code: 'mcp_server_not_found',
      },
      {
        name: `budgets: scope '${name}'`,
        method: 'PUT',
        path: `/v1/admin/budgets/${name}/bad-input`,
        role: 'admin',
        body: { tpm: 5 },
        status: 400,
        param: 'scope',
      },
      {
        name: `budgets: no budget for role '${name}'`,
        method: 'GET',
        path: `/v1/admin/budgets/role/${name}`,
        role: 'admin',
        status: 404,
        code: 'budget_not_found',
      },
      {
        name: `embeddings: model '${name}'`,
        path: '/v1/embeddings',
        body: { input: 'a', model: name },
        status: 404,
        code: 'model_not_found',
      },
    ]),
    ...(
      [
        ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }],
        ['/v1/responses', { input: 'hi' }],
        ['/v1/completions', { prompt: 'hi' }],
      ] as const
    ).map(
      ([path, body]): Case => ({
        name: `${path}: x-mas-role of 201 chars`,
        path,
        body,
        headers: { 'x-mas-role': 'r'.repeat(201) },
        status: 400,
        code: 'invalid_header',
        param: 'x-mas-role',
      }),
    ),
    {
      name: 'chat: an unknown x-mas-role',
      path: '/v1/chat/completions',
      body: chatBody({ model: undefined }),
      headers: { 'x-mas-role': 'nobody' },
      status: 404,
    },
    {
      name: 'chat: an embedding model',
      path: '/v1/chat/completions',
      body: chatBody({ model: 'bad-embed' }),
      status: 400,
    },
    {
      name: 'chat: negative max_tokens',
      path: '/v1/chat/completions',
      body: chatBody({ max_tokens: -1 }),
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'chat: zero max_tokens',
      path: '/v1/chat/completions',
      body: chatBody({ max_tokens: 0 }),
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'chat: huge max_tokens',
      path: '/v1/chat/completions',
      body: chatBody({ max_tokens: 1e15 }),
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'chat: fractional max_tokens',
      path: '/v1/chat/completions',
      body: chatBody({ max_tokens: 10.5 }),
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'chat: max_tokens as text',
      path: '/v1/chat/completions',
      body: chatBody({ max_tokens: '100' }),
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'chat: huge max_completion_tokens',
      path: '/v1/chat/completions',
      body: chatBody({ max_completion_tokens: 2 ** 53 }),
      status: 400,
      param: 'max_completion_tokens',
    },
    {
      name: 'chat: temperature 7',
      path: '/v1/chat/completions',
      body: chatBody({ temperature: 7 }),
      status: 400,
      param: 'temperature',
    },
    {
      name: 'chat: n = 1000',
      path: '/v1/chat/completions',
      body: chatBody({ n: 1000 }),
      status: 400,
      param: 'n',
    },
    {
      name: 'chat: stream "yes"',
      path: '/v1/chat/completions',
      body: chatBody({ stream: 'yes' }),
      status: 400,
      param: 'stream',
    },
    {
      name: 'chat: temperature 1e400 (JSON for Infinity)',
      path: '/v1/chat/completions',
      body: '{"model":"planning","messages":[{"role":"user","content":"hi"}],"temperature":1e400}',
      status: 400,
      param: 'temperature',
    },
    {
      name: 'chat: x-mas-agent-id of 129 chars',
      path: '/v1/chat/completions',
      body: chatBody(),
      headers: { 'x-mas-agent-id': 'a'.repeat(129) },
      status: 400,
      code: 'invalid_header',
      param: 'x-mas-agent-id',
    },
    {
      name: 'chat: x-mas-agent-id of an agent not bound to the key',
      path: '/v1/chat/completions',
      body: chatBody(),
      headers: { 'x-mas-agent-id': 'billing-agent' },
      status: 403,
      code: 'agent_mismatch',
    },
    {
      name: 'chat: model as a number',
      path: '/v1/chat/completions',
      body: chatBody({ model: 42 }),
      status: 400,
      param: 'model',
    },
    // models
    { name: 'models: no key', method: 'GET', path: '/v1/models', role: null, status: 401 },
    {
      name: 'models: an unknown id',
      method: 'GET',
      path: '/v1/models/gpt-9',
      status: 404,
      code: 'model_not_found',
    },
    // responses and legacy completions
    ...generic('/v1/responses', OVER_1M).map((c) => ({ ...c, name: `responses: ${c.name}` })),
    {
      name: 'responses: input a number',
      path: '/v1/responses',
      body: { model: 'planning', input: 42 },
      status: 400,
      param: 'input',
    },
    ...(
      [
        ['an object', { role: 'user', content: { text: 'hi' } }, 'input.0.content'],
        ['a number', { type: 'message', role: 'user', content: 7 }, 'input.0.content'],
        ['missing', { role: 'user' }, 'input.0.content'],
        ['a list of strings', { role: 'assistant', content: ['hi'] }, 'input.0.content'],
        [
          'a tool output of true',
          { type: 'function_call_output', call_id: 'c1', output: true },
          'input.0.output',
        ],
      ] as const
    ).map(([what, item, param]) => ({
      name: `responses: message content ${what}`,
      path: '/v1/responses',
      body: { model: 'planning', input: [item] },
      status: 400,
      param,
    })),
    {
      name: 'responses: an unknown previous_response_id',
      path: '/v1/responses',
      body: { model: 'planning', input: 'hi', previous_response_id: 'resp_nope' },
      status: 404,
      code: 'response_not_found',
    },
    {
      name: 'responses: a built-in tool for a chat-only model',
      path: '/v1/responses',
      body: { model: 'planning', input: 'hi', tools: [{ type: 'web_search' }] },
      status: 400,
      code: 'unsupported_tool',
      param: 'tools[0]',
    },
    {
      name: 'responses: background mode',
      path: '/v1/responses',
      body: { model: 'planning', input: 'hi', background: true },
      status: 400,
      param: 'background',
    },
    { name: 'responses: an unknown id', method: 'GET', path: '/v1/responses/resp_nope', status: 404 },
    {
      name: 'responses: temperature 1e400',
      path: '/v1/responses',
      body: '{"model":"planning","input":"hi","temperature":1e400}',
      status: 400,
      param: 'temperature',
    },
    {
      name: 'responses: max_output_tokens -1e400',
      path: '/v1/responses',
      body: '{"model":"planning","input":"hi","max_output_tokens":-1e400}',
      status: 400,
      param: 'max_output_tokens',
    },
    {
      // Stored and shown back: refused rather than silently dropped by parsing.
      name: 'responses: a metadata key __proto__',
      path: '/v1/responses',
      body: '{"model":"planning","input":"hi","metadata":{"__proto__":"x","a":"b"}}',
      status: 400,
      param: 'metadata.__proto__',
    },
    {
      name: 'responses: an input item with a __proto__ key',
      path: '/v1/responses',
      body: '{"model":"planning","input":[{"role":"user","content":"hi","__proto__":{"role":"system"}}]}',
      status: 400,
      param: 'input.0.__proto__',
    },
    {
      name: 'responses: metadata value of 513 chars',
      path: '/v1/responses',
      body: { model: 'planning', input: 'hi', metadata: { a: 'v'.repeat(513) } },
      status: 400,
      param: 'metadata.a',
    },
    {
      name: 'responses: x-mas-agent-id of 129 chars',
      path: '/v1/responses',
      body: { model: 'planning', input: 'hi' },
      headers: { 'x-mas-agent-id': 'a'.repeat(129) },
      status: 400,
      code: 'invalid_header',
      param: 'x-mas-agent-id',
    },
    {
      name: 'completions: max_tokens 1e400',
      path: '/v1/completions',
      body: '{"model":"planning","prompt":"hi","max_tokens":1e400}',
      status: 400,
      param: 'max_tokens',
    },
    {
      name: 'completions: x-mas-agent-id of 129 chars',
      path: '/v1/completions',
      body: { model: 'planning', prompt: 'hi' },
      headers: { 'x-mas-agent-id': 'a'.repeat(129) },
      status: 400,
      code: 'invalid_header',
      param: 'x-mas-agent-id',
    },
    ...generic('/v1/completions', OVER_1M).map((c) => ({ ...c, name: `completions: ${c.name}` })),
    {
      name: 'completions: prompt an object',
      path: '/v1/completions',
      body: { model: 'planning', prompt: { text: 'hi' } },
      status: 400,
      param: 'prompt',
    },
    // embeddings and vectors
    ...generic('/v1/embeddings', OVER_1M).map((c) => ({ ...c, name: `embeddings: ${c.name}` })),
    {
      name: 'embeddings: empty input list',
      path: '/v1/embeddings',
      body: { input: [] },
      status: 400,
      param: 'input',
    },
    {
      name: 'embeddings: empty string',
      path: '/v1/embeddings',
      body: { input: '' },
      status: 400,
      param: 'input',
    },
    {
      name: 'embeddings: numbers as input',
      path: '/v1/embeddings',
      body: { input: 12345 },
      status: 400,
      param: 'input',
    },
    {
      name: 'embeddings: negative dimensions',
      path: '/v1/embeddings',
      body: { input: 'a', dimensions: -3 },
      status: 400,
      param: 'dimensions',
    },
    {
      name: 'embeddings: a chat model',
      path: '/v1/embeddings',
      body: { input: 'a', model: 'bad-chat' },
      status: 400,
    },
    {
      name: 'embeddings: an unknown model',
      path: '/v1/embeddings',
      body: { input: 'a', model: 'nope' },
      status: 404,
    },
    {
      name: 'embeddings: dimensions 1e400',
      path: '/v1/embeddings',
      body: '{"input":"a","dimensions":1e400}',
      status: 400,
      param: 'dimensions',
    },
    {
      name: 'embeddings: an unknown encoding',
      path: '/v1/embeddings',
      body: { input: 'a', encoding_format: 'hex' },
      status: 400,
      param: 'encoding_format',
    },
    ...generic('/v1/vectors/notes/upsert', OVER_1M).map((c) => ({ ...c, name: `vectors upsert: ${c.name}` })),
    {
      name: 'vectors: a traversal collection name',
      path: '/v1/vectors/..%2f..%2fetc/upsert',
      body: { points: [{ id: 1, vector: [1] }] },
      status: 400,
    },
    {
      name: 'vectors: a SQL collection name',
      path: "/v1/vectors/x';drop table x;--/search",
      body: { vector: [1] },
      status: 400,
    },
    {
      name: 'vectors: upper case collection',
      path: '/v1/vectors/Notes/upsert',
      body: { points: [{ id: 1, vector: [1] }] },
      status: 400,
    },
    {
      name: 'vectors: text and vector both',
      path: '/v1/vectors/notes/upsert',
      body: { points: [{ id: 1, text: 'a', vector: [1] }] },
      status: 400,
    },
    {
      name: 'vectors: a string vector',
      path: '/v1/vectors/notes/upsert',
      body: { points: [{ id: 1, vector: ['1'] }] },
      status: 400,
    },
    {
      name: 'vectors: a negative id',
      path: '/v1/vectors/notes/upsert',
      body: { points: [{ id: -1, vector: [1] }] },
      status: 400,
    },
    {
      name: 'vectors: search limit 0',
      path: '/v1/vectors/notes/search',
      body: { vector: [1], limit: 0 },
      status: 400,
      param: 'limit',
    },
    {
      name: 'vectors: nested filter',
      path: '/v1/vectors/notes/search',
      body: { vector: [1], filter: { a: { $ne: 1 } } },
      status: 400,
    },
    // audit
    ...generic(audit, OVER_256K).map((c) => ({ ...c, name: `audit record: ${c.name}` })),
    { name: 'audit: an approver records', path: audit, role: 'approver', body: action(), status: 403 },
    {
      name: 'audit: agent_id as a number',
      path: audit,
      body: action({ agent_id: 7 }),
      status: 400,
      param: 'agent_id',
    },
    {
      name: 'audit: blank agent_id',
      path: audit,
      body: action({ agent_id: '   ' }),
      status: 400,
      param: 'agent_id',
    },
    {
      name: 'audit: agent_id of 129 chars',
      path: audit,
      body: action({ agent_id: 'a'.repeat(129) }),
      status: 400,
      param: 'agent_id',
    },
    {
      name: 'audit: inputs as a list',
      path: audit,
      body: action({ inputs: [1, 2] }),
      status: 400,
      param: 'inputs',
    },
    {
      name: 'audit: inputs as text',
      path: audit,
      body: action({ inputs: 'rm -rf /' }),
      status: 400,
      param: 'inputs',
    },
    {
      name: 'audit: category null',
      path: audit,
      body: action({ category: null }),
      status: 400,
      param: 'category',
    },
    { name: 'audit: an unknown field', path: audit, body: action({ approved: true }), status: 400 },
    {
      name: 'audit: CRLF in the body correlation_id',
      path: audit,
      body: action({ correlation_id: 'abcdefgh\r\nset-cookie: x=1' }),
      status: 400,
      param: 'correlation_id',
    },
    {
      name: 'audit: a NUL byte in agent_name',
      path: audit,
      body: action({ agent_name: 'Bot\u0000Evil' }),
      status: 400,
      param: 'agent_name',
    },
    {
      name: 'audit: a NUL byte inside inputs',
      path: audit,
      body: action({ inputs: { q: 'a\u0000b' } }),
      status: 400,
      param: 'inputs',
    },
    {
      name: 'audit: a lone surrogate in action_type',
      path: audit,
      body: '{"agent_id":"a","agent_name":"b","action_type":"x\\ud800","category":"read","inputs":{}}',
      status: 400,
      param: 'action_type',
    },
    {
      name: 'audit: a lone surrogate inside inputs',
      path: audit,
      body: '{"agent_id":"a","agent_name":"b","action_type":"x","category":"read","inputs":{"k":"\\udfff"}}',
      status: 400,
      param: 'inputs',
    },
    {
      name: 'audit: amount 1e400 (JSON for Infinity)',
      path: audit,
      body: '{"agent_name":"b","action_type":"wire_transfer","inputs":{"amount":1e400}}',
      status: 400,
      param: 'inputs',
    },
    {
      name: 'audit: an agent key acting as an agent not bound to it',
      path: audit,
      body: action({ agent_id: 'billing-agent' }),
      status: 403,
      code: 'agent_mismatch',
      param: 'agent_id',
    },
    {
      name: 'audit: inputs that fail the registry schema of the tool',
      path: audit,
      body: action({
        tool_name: 'bank.pay',
        inputs: { payment: { amount: 'lots', currency: 'EUR', to: 'x' } },
      }),
      status: 400,
      code: 'invalid_inputs',
      param: 'inputs.payment.amount',
    },
    {
      name: 'audit: justification of 2001 chars',
      path: audit,
      body: action({ justification: 'j'.repeat(2001) }),
      status: 400,
      param: 'justification',
    },
    {
      name: 'audit: a NUL byte in the justification',
      path: audit,
      body: action({ justification: 'because\u0000' }),
      status: 400,
      param: 'justification',
    },
    {
      name: 'audit: inputs nested 200 deep',
      path: audit,
      body: `{"agent_id":"a","agent_name":"b","action_type":"x","category":"read","inputs":{"k":${nested(200)}}}`,
      status: 400,
      param: 'inputs',
    },
    ...generic('/v1/audit/actions/00000000-0000-4000-8000-000000000000', OVER_256K, 'PATCH').map((c) => ({
      ...c,
      name: `audit update: ${c.name}`,
    })),
    {
      name: 'audit update: status approved',
      method: 'PATCH',
      path: patchPath,
      body: { status: 'approved' },
      status: 400,
      param: 'status',
    },
    {
      name: 'audit update: status recorded',
      method: 'PATCH',
      path: patchPath,
      body: { status: 'recorded' },
      status: 400,
      param: 'status',
    },
    {
      name: 'audit update: error as an object',
      method: 'PATCH',
      path: patchPath,
      body: { status: 'failed', error: { a: 1 } },
      status: 400,
      param: 'error',
    },
    {
      name: 'audit update: a forged receipt field',
      method: 'PATCH',
      path: patchPath,
      body: { status: 'completed', receipt: 'x'.repeat(500) },
      status: 400,
      param: 'receipt',
    },
    {
      name: 'audit update: a NUL byte in error',
      method: 'PATCH',
      path: patchPath,
      body: { status: 'failed', error: 'boom\u0000' },
      status: 400,
      param: 'error',
    },
    {
      name: 'audit update: a lone surrogate in outputs',
      method: 'PATCH',
      path: patchPath,
      body: '{"status":"failed","outputs":{"k":["\\ud83d"]}}',
      status: 400,
      param: 'outputs',
    },
    {
      name: 'audit update: not a uuid',
      method: 'PATCH',
      path: '/v1/audit/actions/1%20or%201=1',
      body: { status: 'completed' },
      status: 400,
    },
    {
      name: 'audit update: traversal id',
      method: 'PATCH',
      path: '/v1/audit/actions/..%2f..%2fverify',
      body: { status: 'completed' },
      status: 400,
    },
    {
      name: 'audit update: an unknown id',
      method: 'PATCH',
      path: `/v1/audit/actions/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
      body: { status: 'completed' },
      status: 404,
    },
    {
      name: 'audit update: an approver',
      method: 'PATCH',
      path: patchPath,
      role: 'approver',
      body: { status: 'completed' },
      status: 403,
    },
    {
      name: 'audit list: limit -1',
      method: 'GET',
      path: '/v1/audit/actions?limit=-1',
      status: 400,
      param: 'limit',
    },
    {
      name: 'audit list: limit huge',
      method: 'GET',
      path: '/v1/audit/actions?limit=99999999999999999999',
      status: 400,
      param: 'limit',
    },
    {
      name: 'audit list: since not a date',
      method: 'GET',
      path: '/v1/audit/actions?since=yesterday',
      status: 400,
      param: 'since',
    },
    {
      name: 'audit list: a forged cursor',
      method: 'GET',
      path: "/v1/audit/actions?cursor=' or 1=1 --",
      status: 400,
      param: 'cursor',
    },
    { name: 'audit get: not a uuid', method: 'GET', path: '/v1/audit/actions/%27%3B%20drop', status: 400 },
    { name: 'audit verify: an agent', method: 'GET', path: '/v1/audit/verify', status: 403 },
    // batches of actions
    ...generic('/v1/audit/actions:batch', OVER_4M).map((c) => ({ ...c, name: `audit batch: ${c.name}` })),
    {
      name: 'audit batch: an amount 1e400 in the second action',
      path: '/v1/audit/actions:batch',
      body: `{"actions":[${JSON.stringify(action())},{"agent_name":"b","action_type":"wire_transfer","inputs":{"amount":1e400}}]}`,
      status: 400,
      param: 'actions.1.inputs',
    },
    {
      name: 'audit batch: agent_id of 129 chars',
      path: '/v1/audit/actions:batch',
      body: { actions: [action({ agent_id: 'a'.repeat(129) })] },
      status: 400,
      param: 'actions.0.agent_id',
    },
    {
      name: 'audit batch: category constructor with an amount (gated: no batch)',
      path: '/v1/audit/actions:batch',
      body: { actions: [action({ category: 'constructor', inputs: { amount: 5 } })] },
      status: 400,
      code: 'approval_required',
      param: 'actions.0',
    },
    {
      name: 'audit batch: actions an object',
      path: '/v1/audit/actions:batch',
      body: { actions: { 0: action() } },
      status: 400,
      param: 'actions',
    },
    // usage
    {
      name: 'usage: scope constructor',
      method: 'GET',
      path: '/v1/usage?scope=constructor',
      status: 400,
      param: 'scope',
    },
    {
      name: 'usage: since not a date',
      method: 'GET',
      path: '/v1/usage?since=1e400',
      status: 400,
      param: 'since',
    },
    {
      name: 'usage: another principal, as an agent',
      method: 'GET',
      path: '/v1/usage?scope=principal&id=admin-1',
      status: 403,
    },
    // the verifiable log
    { name: 'checkpoints: signed by an agent', path: '/v1/audit/checkpoints', status: 403 },
    { name: 'checkpoints: no key', method: 'GET', path: '/v1/audit/checkpoints', role: null, status: 401 },
    {
      name: 'checkpoints: limit 1e400',
      method: 'GET',
      path: '/v1/audit/checkpoints?limit=1e400',
      status: 400,
      param: 'limit',
    },
    {
      name: 'checkpoints: cursor constructor',
      method: 'GET',
      path: '/v1/audit/checkpoints?cursor=constructor',
      status: 400,
      param: 'cursor',
    },
    {
      name: 'proof: size 1e400',
      method: 'GET',
      path: () => `/v1/audit/actions/${ids.action}/proof?size=1e400`,
      status: 400,
      param: 'size',
    },
    {
      name: 'proof: size -1',
      method: 'GET',
      path: () => `/v1/audit/actions/${ids.action}/proof?size=-1`,
      status: 400,
      param: 'size',
    },
    {
      name: 'proof: an action id __proto__',
      method: 'GET',
      path: '/v1/audit/actions/__proto__/proof',
      status: 400,
    },
    {
      name: 'proof: another agent’s action',
      method: 'GET',
      path: () => `/v1/audit/actions/${ids.action}/proof`,
      role: 'agent2',
      status: 404,
      code: 'action_not_found',
    },
    {
      name: 'consistency: to 1e400',
      method: 'GET',
      path: '/v1/audit/consistency?from=1&to=1e400',
      status: 400,
      param: 'to',
    },
    {
      name: 'consistency: from constructor',
      method: 'GET',
      path: '/v1/audit/consistency?from=constructor&to=1',
      status: 400,
      param: 'from',
    },
    {
      name: 'consistency: an unknown parameter',
      method: 'GET',
      path: '/v1/audit/consistency?from=1&to=2&valueOf=1',
      status: 400,
    },
    // budgets (admin)
    ...generic('/v1/admin/budgets/role/bad-input', OVER_256K, 'PUT', 'admin')
      // Every limit is optional: {} is a valid budget body.
      .filter((c) => c.name !== 'missing fields')
      .map((c) => ({ ...c, name: `budgets: ${c.name}` })),
    {
      name: 'budgets: set by an agent',
      method: 'PUT',
      path: '/v1/admin/budgets/role/bad-input',
      body: { tpm: 5 },
      status: 403,
    },
    {
      name: 'budgets: daily_usd 1e400',
      method: 'PUT',
      path: '/v1/admin/budgets/role/bad-input',
      role: 'admin',
      body: '{"daily_usd":1e400}',
      status: 400,
      param: 'daily_usd',
    },
    {
      name: 'budgets: a __proto__ key',
      method: 'PUT',
      path: '/v1/admin/budgets/role/bad-input',
      role: 'admin',
      body: '{"__proto__":{"tpm":5}}',
      status: 400,
    },
    {
      name: 'budgets: negative tpm',
      method: 'PUT',
      path: '/v1/admin/budgets/role/bad-input',
      role: 'admin',
      body: { tpm: -1 },
      status: 400,
      param: 'tpm',
    },
    {
      name: 'budgets: an id of 201 chars',
      method: 'PUT',
      path: `/v1/admin/budgets/role/${'r'.repeat(201)}`,
      role: 'admin',
      body: { tpm: 5 },
      status: 400,
      param: 'id',
    },
    {
      name: 'budgets: a control character in the id',
      method: 'PUT',
      path: '/v1/admin/budgets/role/a%0Ab',
      role: 'admin',
      body: { tpm: 5 },
      status: 400,
      param: 'id',
    },
    // approvals
    ...generic(
      '/v1/approvals/00000000-0000-4000-8000-000000000000/decision',
      OVER_256K,
      'POST',
      'approver',
    ).map((c) => ({ ...c, name: `decision: ${c.name}` })),
    {
      name: 'decision: maybe',
      path: decision,
      role: 'approver',
      body: { decision: 'maybe' },
      status: 400,
      param: 'decision',
    },
    {
      name: 'decision: reject without reason',
      path: decision,
      role: 'approver',
      body: { decision: 'reject' },
      status: 400,
      param: 'reason',
    },
    {
      name: 'decision: reason as a list',
      path: decision,
      role: 'approver',
      body: { decision: 'approve', reason: ['a'] },
      status: 400,
      param: 'reason',
    },
    {
      name: 'decision: an extra field',
      path: decision,
      role: 'approver',
      body: { decision: 'approve', approver: 'admin-1' },
      status: 400,
    },
    {
      name: 'decision: a NUL byte in the reason',
      path: decision,
      role: 'approver',
      body: { decision: 'reject', reason: 'no\u0000' },
      status: 400,
      param: 'reason',
    },
    {
      name: 'decision: by an agent',
      path: decision,
      role: 'agent',
      body: { decision: 'approve' },
      status: 403,
    },
    {
      name: 'decision: not a uuid',
      path: '/v1/approvals/x/decision',
      role: 'approver',
      body: { decision: 'approve' },
      status: 400,
    },
    {
      name: 'decision: an unknown id',
      path: '/v1/approvals/00000000-0000-4000-8000-000000000000/decision',
      role: 'approver',
      body: { decision: 'approve' },
      status: 404,
    },
    {
      name: 'approvals list: bogus status',
      method: 'GET',
      path: '/v1/approvals?status=all',
      role: 'approver',
      status: 400,
      param: 'status',
    },
    { name: 'approvals list: by an agent', method: 'GET', path: '/v1/approvals', role: 'agent', status: 403 },
    {
      name: 'approval wait: negative',
      method: 'GET',
      path: () => `/v1/approvals/${ids.approval}?wait=-1`,
      role: 'agent',
      status: 400,
      param: 'wait',
    },
    {
      name: 'approval wait: an hour',
      method: 'GET',
      path: () => `/v1/approvals/${ids.approval}?wait=3600`,
      role: 'agent',
      status: 400,
      param: 'wait',
    },
    {
      name: 'approvals page: a decision without a session',
      path: () => `/approvals/${ids.approval}/decide`,
      role: null,
      body: 'decision=approve&csrf=x',
      contentType: 'application/x-www-form-urlencoded',
      headers: { origin: 'http://mas.test' },
      status: 401,
    },
    {
      name: 'approvals page: a cross-site sign-in (login CSRF)',
      path: '/approvals/login',
      role: null,
      body: 'key=mas_test_approver_key_0123456789abcdef',
      contentType: 'application/x-www-form-urlencoded',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      status: 403,
    },
    {
      name: 'approvals list: a forged cursor',
      method: 'GET',
      path: '/v1/approvals?cursor=Zm9vfGJhcg',
      role: 'approver',
      status: 400,
      param: 'cursor',
    },
    {
      name: 'approvals list: limit 501',
      method: 'GET',
      path: '/v1/approvals?limit=501',
      role: 'approver',
      status: 400,
      param: 'limit',
    },
    // integration proxy: traversal and SSRF in writes (reads: functions/proxy/proxy.test.ts)
    { name: 'proxy: unknown integration', path: '/v1/integrations/evil/resources/x', body: {}, status: 404 },
    {
      // The URL is normalised before routing: this asks for an integration named 'admin'.
      name: 'proxy: write with ../',
      path: '/v1/integrations/mindex/resources/../../admin',
      body: {},
      status: 404,
    },
    {
      name: 'proxy: write with encoded ../',
      path: '/v1/integrations/mindex/resources/%2e%2e%2fadmin',
      body: {},
      status: 403,
    },
    {
      name: 'proxy: write to another host',
      path: '/v1/integrations/mindex/resources//evil.example.com/x',
      body: {},
      status: 403,
    },
    {
      name: 'proxy: write to a URL',
      path: '/v1/integrations/mindex/http://169.254.169.254/latest/meta-data',
      body: {},
      status: 403,
    },
    {
      name: 'proxy: CRLF in the query',
      path: '/v1/integrations/mindex/resources/x?a=%0d%0aHost:%20evil',
      body: {},
      status: 403,
    },
    {
      name: 'proxy: a method not allowed',
      method: 'TRACE',
      path: '/v1/integrations/mindex/resources/x',
      status: 403,
    },
    {
      name: 'proxy: a write over the limit',
      path: '/v1/integrations/mindex/resources/x',
      body: OVER_1M.repeat(2),
      status: 413,
    },
    {
      name: 'proxy: an approver',
      path: '/v1/integrations/mindex/resources/x',
      role: 'approver',
      body: {},
      status: 403,
    },
    // Headers stored in the ledger are bounded like their body counterparts, and bound to the key.
    {
      name: 'proxy: x-mas-agent-id of 129 chars',
      path: '/v1/integrations/mindex/resources/x',
      body: {},
      headers: { 'x-mas-agent-id': 'a'.repeat(129) },
      status: 400,
      param: 'x-mas-agent-id',
    },
    {
      name: 'proxy: a blank x-mas-agent-id',
      path: '/v1/integrations/mindex/resources/x',
      body: {},
      headers: { 'x-mas-agent-id': '   ' },
      status: 400,
      param: 'x-mas-agent-id',
    },
    {
      name: 'proxy: x-mas-agent-name of 257 chars',
      path: '/v1/integrations/mindex/resources/x',
      body: {},
      headers: { 'x-mas-agent-name': 'n'.repeat(257) },
      status: 400,
      param: 'x-mas-agent-name',
    },
    {
      name: 'proxy: x-mas-agent-id of an agent not bound to the key',
      path: '/v1/integrations/mindex/resources/x',
      body: {},
      headers: { 'x-mas-agent-id': 'billing-agent' },
      status: 403,
      code: 'agent_mismatch',
      param: 'x-mas-agent-id',
    },
    {
      name: 'proxy: a receipt header of 201 chars',
      path: '/v1/integrations/mindex/resources/x',
      body: {},
      headers: {
        'x-mas-approval-receipt': 'r'.repeat(201),
        'x-mas-action-id': '00000000-0000-4000-8000-000000000000',
      },
      status: 400,
      param: 'x-mas-approval-receipt',
    },
  ];
}

beforeAll(async () => {
  const e = await env();
  const res = await call(app, '/v1/audit/actions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify(action({ category: 'destructive', inputs: { bucket: 'x' } })),
    env: e,
  });
  const body = (await res.json()) as { action_id: string; approval: { id: string } };
  ids.action = body.action_id;
  ids.approval = body.approval.id;
});

// Names a caller chooses are looked up as own properties only, and odd but valid JSON is kept
// faithfully: these are accepted (never a 500), and what is stored is what was sent.
describe('caller-chosen names and keys', () => {
  const record = async (body: unknown) => {
    const res = await call(app, '/v1/audit/actions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      env: await env(),
    });
    return {
      status: res.status,
      body: (await res.json()) as { action_id: string; status: string; category: string },
    };
  };

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'category %s with an amount is gated as an unknown category, not a 500',
    async (category) => {
      const { status, body } = await record(action({ category, inputs: { amount: 5 } }));
      expect(status).toBe(201);
      expect(body).toMatchObject({ status: 'pending_approval', category });
    },
  );

  it('a top-level inputs.__proto__ key is kept as an own property: hashed, stored and shown', async () => {
    const { status, body } = await record(
      '{"agent_name":"b","action_type":"search","inputs":{"__proto__":{"isAdmin":true},"q":"x"}}',
    );
    expect(status).toBe(201);
    const [row] = await sql<{ inputs: string }>(
      "select inputs::text as inputs from audit.action_logs where action_id = $1 and entry_type = 'action'",
      [body.action_id],
    );
    expect(Object.hasOwn(JSON.parse(row!.inputs) as object, '__proto__')).toBe(true);
    expect(row!.inputs).toContain('"__proto__": {"isAdmin": true}');
  });
});

describe('bad input at every endpoint: the documented 4xx, the OpenAI error shape, nothing written', () => {
  it.each(cases().map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const correlationId = `bad-${crypto.randomUUID()}`;
    const headers: Record<string, string> = { 'x-correlation-id': correlationId, ...c.headers };
    if (c.role !== null) Object.assign(headers, bearer(c.role ?? 'agent'));
    let body: BodyInit | undefined;
    if (c.body instanceof Uint8Array || typeof c.body === 'string') body = c.body as BodyInit;
    else if (c.body !== undefined) body = JSON.stringify(c.body);
    if (body !== undefined && c.contentType !== null)
      headers['content-type'] = c.contentType ?? 'application/json';
    const path = typeof c.path === 'function' ? c.path() : c.path;
    const res = await call(app, path, { method: c.method ?? 'POST', headers, body, env: await env() });
    const text = await res.text();

    expect(res.status, text).toBe(c.status);
    expect(res.headers.get('x-correlation-id')).toBe(correlationId);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { error } = JSON.parse(text) as {
      error: { message: string; type: string; code: string; param: string | null };
    };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.message.length).toBeGreaterThan(0);
    expect(error.type).toMatch(/_error$/);
    if (c.code) expect(error.code).toBe(c.code);
    if (c.param !== undefined) expect(error.param).toBe(c.param);
    // Never a stack trace, never a secret, never the body echoed back.
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|sk-fake-key|mindex-secret/);
    expect(text.length).toBeLessThan(2000);

    expect(await writtenUnder(correlationId)).toBe(0);
    expect(await upstreamCallsUnder(correlationId)).toBe(0);
  });
});

/**
 * The Messages API answers in Anthropic's error shape, the MCP endpoint in JSON-RPC and the
 * approvals sign-in with a redirect: the same attacks there, each in its own protocol, never a
 * 500, nothing written and no LLM upstream reached.
 */
async function send(
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ res: Response; text: string; correlationId: string }> {
  const correlationId = `bad-${crypto.randomUUID()}`;
  const res = await call(app, path, {
    method: 'POST',
    headers: { 'x-correlation-id': correlationId, ...headers },
    body,
    env: await env(),
  });
  return { res, text: await res.text(), correlationId };
}

describe('bad input on /v1/messages: Anthropic’s error shape', () => {
  const message = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      model: 'planning',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
      ...over,
    });
  const json = { 'content-type': 'application/json', ...bearer('agent') };
  const messageCases: Array<[string, string, string, Record<string, string>, number, string]> = [
    ['malformed JSON', '/v1/messages', '{"model": [1, 2', json, 400, 'invalid_request_error'],
    [
      'no key',
      '/v1/messages',
      message(),
      { 'content-type': 'application/json' },
      401,
      'authentication_error',
    ],
    [
      'text/plain',
      '/v1/messages',
      message(),
      { ...json, 'content-type': 'text/plain' },
      400,
      'invalid_request_error',
    ],
    [
      'max_tokens 1e400',
      '/v1/messages',
      message().replace('"max_tokens":16', '"max_tokens":1e400'),
      json,
      400,
      'invalid_request_error',
    ],
    [
      'temperature 1e400',
      '/v1/messages',
      message().replace('}]}', '}],"temperature":1e400}'),
      json,
      400,
      'invalid_request_error',
    ],
    [
      'x-mas-role of 201 chars',
      '/v1/messages',
      message({ model: undefined }),
      { ...json, 'x-mas-role': 'r'.repeat(201) },
      400,
      'invalid_request_error',
    ],
    [
      'x-mas-agent-id of 129 chars',
      '/v1/messages',
      message(),
      { ...json, 'x-mas-agent-id': 'a'.repeat(129) },
      400,
      'invalid_request_error',
    ],
    [
      'a body over the limit',
      '/v1/messages',
      message({ messages: [{ role: 'user', content: 'x'.repeat(11_000_000) }] }),
      json,
      413,
      'request_too_large',
    ],
    ...PROTOTYPE_NAMES.flatMap(
      (name): Array<[string, string, string, Record<string, string>, number, string]> => [
        [`model '${name}'`, '/v1/messages', message({ model: name }), json, 404, 'not_found_error'],
        [
          `model 'role:${name}'`,
          '/v1/messages',
          message({ model: `role:${name}` }),
          json,
          404,
          'not_found_error',
        ],
        [
          `x-mas-role '${name}'`,
          '/v1/messages',
          message({ model: undefined }),
          { ...json, 'x-mas-role': name },
          404,
          'not_found_error',
        ],
        [
          `count_tokens, model '${name}'`,
          '/v1/messages/count_tokens',
          message({ model: name, max_tokens: undefined }),
          json,
          404,
          'not_found_error',
        ],
      ],
    ),
  ];
  it.each(messageCases)('%s', async (_, path, body, headers, status, type) => {
    const { res, text, correlationId } = await send(path, body, headers);
    expect(res.status, text).toBe(status);
    const parsed = JSON.parse(text) as {
      type: string;
      error: { type: string; message: string };
      request_id: string;
    };
    expect(parsed).toMatchObject({ type: 'error', error: { type }, request_id: expect.any(String) });
    expect(parsed.error.message.length).toBeGreaterThan(0);
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|sk-fake-key/);
    expect(await writtenUnder(correlationId)).toBe(0);
    expect(await upstreamCallsUnder(correlationId)).toBe(0);
  });
});

describe('bad input on /mcp: JSON-RPC invalid params, nothing recorded', () => {
  const rpc = (params: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...bearer('agent'),
  };
  const mcpCases: Array<[string, string]> = [
    ...PROTOTYPE_NAMES.flatMap(
      (name): Array<[string, string]> => [
        [`tool '${name}'`, rpc({ name, arguments: {} })],
        [`tool 'files__${name}'`, rpc({ name: `files__${name}`, arguments: {} })],
        [`tool '${name}__read_file'`, rpc({ name: `${name}__read_file`, arguments: { path: 'a' } })],
      ],
    ),
    [
      'an argument 1e400 (JSON for Infinity)',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"files__read_file","arguments":{"path":"a","amount":1e400}}}',
    ],
    [
      'an argument -1e400 in a list',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"files__read_file","arguments":{"path":"a","n":[-1e400]}}}',
    ],
    ['a NUL byte in an argument', rpc({ name: 'files__read_file', arguments: { path: 'a\u0000b' } })],
  ];
  it.each(mcpCases)('%s', async (_, body) => {
    const { res, text, correlationId } = await send('/mcp', body, headers);
    expect(res.status, text).toBe(200);
    const parsed = JSON.parse(text) as { id: number; error?: { code: number; message: string } };
    expect(parsed.id).toBe(7);
    expect(parsed.error?.code, text).toBe(-32602);
    expect(await writtenUnder(correlationId)).toBe(0);
  });
});

describe('bad input on /approvals/login: a redirect with a message, never a session', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://mas.test' };
  it.each([
    ['a key named constructor', 'key=constructor', form],
    ['a __proto__ field and key', '__proto__=x&key=__proto__', form],
    ['a key of 100,000 chars', `key=${'k'.repeat(100_000)}`, form],
    ['two keys', 'key=a&key=b', form],
    ['key[] as a list', 'key[]=a&key[]=b', form],
    ['a JSON body', '{"key":"mas_test_approver_key_0123456789abcdef"}', { origin: 'http://mas.test' }],
    ['an agent key', 'key=mas_test_agent_key_0123456789abcdef', form],
  ])('%s', async (_, body, headers) => {
    const { res, correlationId } = await send('/approvals/login', body, headers);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/approvals\?flash=/);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await writtenUnder(correlationId)).toBe(0);
  });
});
