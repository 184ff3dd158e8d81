/**
 * Every operation of docs/API.md with the zod schemas its route validates requests with. The
 * response schemas describe what the handlers return (loose where the body is an upstream's or
 * open-ended). Read by local/openapi.ts; nothing here ships in a function bundle.
 */
import * as z from 'zod';
import { verifyQuery } from '../functions/audit/ledger-routes.ts';
import { completionRequestSchema } from '../functions/chat/completions.ts';
import { inputItemsQuerySchema, responsesRequestSchema } from '../functions/chat/responses.ts';
import { chatRequestSchema } from '../functions/chat/routes.ts';
import { embeddingsSchema, searchSchema, upsertSchema } from '../functions/embed/routes.ts';
import { decisionSchema, listApprovalsQuerySchema, waitQuerySchema } from '../shared/approvals/approvals.ts';
import {
  listQuerySchema,
  recordActionSchema,
  recordBatchSchema,
  updateActionSchema,
} from '../shared/audit/actions.ts';
import { countTokensRequestSchema, messagesRequestSchema } from '../shared/llm/messages/messages-schema.ts';
import { USAGE_OPERATIONS } from './openapi-usage.ts';

export interface Operation {
  id: string;
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** false: no key; true: any principal; else the roles allowed. */
  auth: boolean | string[];
  body?: z.core.$ZodType;
  query?: z.core.$ZodType;
  pathParams?: Record<string, z.core.$ZodType>;
  headers?: Record<string, string>;
  responses: Record<string, { description: string; schema?: z.core.$ZodType; sse?: boolean; html?: boolean }>;
  errors?: Array<keyof typeof RESPONSES>;
  /** Anthropic's Messages API: its error shape and status codes, and `x-api-key` accepted. */
  anthropic?: true;
}

const checkpoint = z.object({
  tree_size: z.number(),
  root_hash: z.string(),
  created_at: z.string(),
  key_id: z.string(),
  note: z.string(),
});

export const RESPONSES = {
  400: 'Invalid request (OpenAI error shape, `param` names the field).',
  401: 'Missing, malformed or unknown API key.',
  403: 'The key is valid but its role may not do this.',
  404: 'Not found (unknown id, model, role or integration).',
  409: 'Conflicts with the current state.',
  410: 'The approval expired.',
  413: 'Body larger than the function allows.',
  415: 'Body is not application/json.',
  429: 'Rate limited per principal, or too many failed authentications from this client (Retry-After says when to retry).',
  502: 'Every upstream failed.',
  503: 'A dependency is unavailable, or no model could be called.',
  504: 'No upstream answered within the deadline.',
} as const;

/** The same failures as Anthropic reports them (shared/errors/on-error.ts `anthropicErrorBody`). */
export const ANTHROPIC_RESPONSES: Record<keyof typeof RESPONSES, string> = {
  ...RESPONSES,
  400: 'invalid_request_error (also for 409, 413 request_too_large is its own, 415).',
  401: 'authentication_error: missing, malformed or unknown key (`x-api-key` or Bearer).',
  403: 'permission_error: the key’s role may not call models.',
  404: 'not_found_error: unknown model or role.',
  429: 'rate_limit_error (Retry-After says when to retry).',
  502: 'Sent as 500 api_error: every upstream failed.',
  503: 'Sent as 529 overloaded_error: no model could be called.',
  504: 'timeout_error: no upstream answered within the deadline.',
};

const anthropicMessage = z
  .object({
    id: z.string(),
    type: z.literal('message'),
    role: z.literal('assistant'),
    model: z.string(),
    content: z.array(z.looseObject({ type: z.string() })),
    stop_reason: z.string().nullable(),
    stop_sequence: z.string().nullable(),
    usage: z.looseObject({ input_tokens: z.number(), output_tokens: z.number() }),
  })
  .loose();

const uuid = z.uuid();
const collection = z.string().regex(/^[a-z0-9_]{1,48}$/);
const isoTime = z.iso.datetime({ offset: true });
const routing = {
  'x-mas-role': 'Role to route to when `model` is absent (planning, execution, fast, fallback...).',
};
const health = z.object({
  status: z.literal('ok'),
  service: z.literal('mas'),
  function: z.string(),
  version: z.string(),
});
const check = z.object({
  status: z.enum(['ok', 'fail', 'disabled']),
  latency_ms: z.number().optional(),
  error: z.string().optional(),
  required: z.boolean().optional(),
  backend: z.string().optional(),
});
const ready = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), check) });
const completion = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.looseObject({ index: z.number(), message: z.looseObject({}), finish_reason: z.string() }),
  ),
  usage: z.looseObject({
    prompt_tokens: z.number(),
    completion_tokens: z.number(),
    total_tokens: z.number(),
  }),
});
const model = z.looseObject({
  id: z.string(),
  object: z.literal('model'),
  created: z.number(),
  owned_by: z.string(),
  chain: z.array(z.string()).optional(),
});
const responseObject = z.looseObject({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.number(),
  status: z.enum(['completed', 'incomplete', 'failed', 'in_progress']),
  model: z.string(),
  output: z.array(z.looseObject({ type: z.string() })),
  usage: z
    .looseObject({ input_tokens: z.number(), output_tokens: z.number(), total_tokens: z.number() })
    .optional(),
  store: z.boolean(),
  previous_response_id: z.string().nullable(),
});
const models = z.object({
  object: z.literal('list'),
  data: z.array(z.looseObject({ id: z.string(), object: z.literal('model') })),
});
const embeddings = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      object: z.literal('embedding'),
      index: z.number(),
      embedding: z.union([z.array(z.number()), z.string().describe('base64 little-endian float32')]),
    }),
  ),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number(), total_tokens: z.number() }),
});
const approvalRef = z.object({ id: uuid, expires_at: isoTime });
const actionCreated = z.object({
  action_id: uuid,
  status: z.enum(['recorded', 'pending_approval']),
  category: z.string().describe('Effective category (config/actions.yaml; a stricter claim is kept).'),
  claimed_category: z.string().nullable(),
  policy_rule: z.string().describe('The config/policies.yaml rule that decided.'),
  approval: approvalRef.optional(),
});
const action = z.looseObject({
  action_id: uuid,
  agent_id: z.string(),
  action_type: z.string(),
  category: z.string(),
  status: z.string(),
  created_at: isoTime,
});
const approval = z.looseObject({
  id: uuid,
  action_id: uuid,
  status: z.enum(['pending', 'approved', 'rejected', 'expired']),
  principal: z.string().nullable().describe('The key that asked (authenticated).'),
  agent_id: z.string().describe('The agent it acted as (bound to the key).'),
  agent_name: z.string().nullable().describe('What the agent calls itself: self-declared only.'),
  action_type: z.string(),
  tool_name: z.string().nullable(),
  category: z.string().describe('Effective category: the registry’s, or a stricter claimed one.'),
  claimed_category: z.string().nullable(),
  risk: z.string().nullable().describe('The registry’s risk note.'),
  policy_rule: z.string().nullable().describe('The config/policies.yaml rule that gated it.'),
  justification: z.string().nullable().describe('The agent’s stated reason (redacted).'),
  quorum: z.number(),
  approvals: z.number(),
  expires_at: isoTime,
  expires_in_seconds: z.number(),
  escalated: z.boolean(),
  receipt: z
    .string()
    .optional()
    .describe('Only for the requesting agent once approved: redeem it to complete.'),
});

export const OPERATIONS: Operation[] = [
  {
    id: 'health',
    method: 'get',
    path: '/health',
    tag: 'health',
    summary: 'Liveness; touches no dependency',
    auth: false,
    responses: { 200: { description: 'Alive.', schema: health } },
  },
  {
    id: 'ready',
    method: 'get',
    path: '/ready',
    tag: 'ready',
    summary: 'Readiness of Postgres, Redis, the vector store and the LLM upstream, checked in parallel',
    description:
      'Each isolate reuses its last answer, good or bad, for `ready.cache_ms` (1 s), and concurrent ' +
      'calls share the check in flight, so unauthenticated calls cannot turn into connections.',
    auth: false,
    responses: {
      200: { description: 'Every required dependency is ok.', schema: ready },
      503: { description: 'A required dependency failed (short reason, no secrets).', schema: ready },
    },
  },
  {
    id: 'createChatCompletion',
    method: 'post',
    path: '/v1/chat/completions',
    tag: 'chat',
    summary: 'OpenAI Chat Completions, routed by model id or role over a fallback chain',
    description:
      'Streaming (`stream: true`) answers with SSE ending in `data: [DONE]`. Response headers: ' +
      '`x-mas-provider`, `x-mas-model`, `x-mas-attempts`, and `Server-Timing` (gateway and upstream time).',
    auth: ['agent', 'admin'],
    body: chatRequestSchema,
    headers: routing,
    responses: {
      200: { description: 'A completion, or an SSE stream of chunks.', schema: completion, sse: true },
    },
    errors: [400, 401, 403, 404, 413, 415, 429, 502, 503, 504],
  },
  {
    id: 'createMessage',
    method: 'post',
    path: '/v1/messages',
    tag: 'messages',
    summary: 'Anthropic Messages API, routed by model id or role over the same chains as chat',
    description:
      'Anthropic models get the request as sent (`anthropic-beta` passed through); OpenAI, Gemini ' +
      'and OpenAI-compatible models get it translated to Chat Completions and back. Streaming ' +
      '(`stream: true`) answers with Anthropic SSE events (`message_start` … `message_stop`). ' +
      'Errors use Anthropic’s shape and status codes. See docs/LLM.md for what is translated.',
    auth: ['agent', 'admin'],
    anthropic: true,
    body: messagesRequestSchema,
    headers: {
      ...routing,
      'anthropic-version': 'Accepted (and passed to Anthropic upstreams).',
      'anthropic-beta': 'Passed to Anthropic upstreams.',
    },
    responses: {
      200: {
        description: 'A message, or an SSE stream of Messages events.',
        schema: anthropicMessage,
        sse: true,
      },
    },
    errors: [400, 401, 403, 404, 413, 429, 502, 503, 504],
  },
  {
    id: 'countMessageTokens',
    method: 'post',
    path: '/v1/messages/count_tokens',
    tag: 'messages',
    summary: 'Input tokens of a Messages request: Anthropic’s count, or an estimate for other models',
    description: '`x-mas-token-count: upstream | estimate` says which (docs/LLM.md describes the estimate).',
    auth: ['agent', 'admin'],
    anthropic: true,
    body: countTokensRequestSchema,
    headers: routing,
    responses: { 200: { description: 'The count.', schema: z.object({ input_tokens: z.number() }) } },
    errors: [400, 401, 403, 404, 413, 429, 502, 503, 504],
  },
  {
    id: 'listModels',
    method: 'get',
    path: '/v1/models',
    tag: 'chat',
    summary: 'Models and roles of the registry',
    auth: true,
    responses: { 200: { description: 'OpenAI model list.', schema: models } },
    errors: [401, 429],
  },
  {
    id: 'retrieveModel',
    method: 'get',
    path: '/v1/models/{id}',
    tag: 'chat',
    summary: 'One model id, role name or role:<name> (roles with their chain)',
    auth: true,
    responses: { 200: { description: 'OpenAI model object.', schema: model } },
    errors: [401, 404, 429],
  },
  {
    id: 'createResponse',
    method: 'post',
    path: '/v1/responses',
    tag: 'chat',
    summary: 'OpenAI Responses API through the router (native for openai models, translated for the rest)',
    description:
      'Input as a string or items (messages with text and image parts, function_call, function_call_output), ' +
      'instructions, function tools and tool_choice, text.format, max_output_tokens, temperature/top_p, ' +
      'metadata, parallel_tool_calls, reasoning, store (default true) and previous_response_id. `openai` ' +
      'models get the request on their own /responses; Gemini, Anthropic and OpenAI-compatible models get it translated ' +
      'to Chat Completions and back (built-in tools, reasoning items and file inputs need an openai model: 400 ' +
      "otherwise). `stream: true` answers with OpenAI's event sequence, ending in response.completed, " +
      'response.incomplete or response.failed.',
    auth: ['agent', 'admin'],
    body: responsesRequestSchema,
    headers: routing,
    responses: {
      200: { description: 'A Response object, or its SSE event stream.', schema: responseObject, sse: true },
    },
    errors: [400, 401, 403, 404, 413, 415, 429, 502, 503, 504],
  },
  {
    id: 'createCompletion',
    method: 'post',
    path: '/v1/completions',
    tag: 'chat',
    summary:
      'Legacy Completions: forwarded to OpenAI-type upstreams, one user turn per prompt for Gemini and Anthropic',
    description:
      'Prompt as a string, strings, token ids or token-id arrays; max_tokens, stop, stream, suffix and the ' +
      'rest go as sent to OpenAI and OpenAI-compatible upstreams. Gemini and Anthropic answer each string prompt ' +
      'as one user turn; token prompts, suffix and several streamed prompts need an OpenAI-type model (400 ' +
      'unsupported_for_model when only Gemini or Anthropic models are left).',
    auth: ['agent', 'admin'],
    body: completionRequestSchema,
    headers: routing,
    responses: {
      200: {
        description: 'A text_completion, or an SSE stream of them ending in [DONE].',
        schema: z.looseObject({
          id: z.string(),
          object: z.literal('text_completion'),
          created: z.number(),
          model: z.string(),
          choices: z.array(z.looseObject({ text: z.string(), index: z.number() })),
        }),
        sse: true,
      },
    },
    errors: [400, 401, 403, 404, 413, 415, 429, 502, 503, 504],
  },
  {
    id: 'getResponse',
    method: 'get',
    path: '/v1/responses/{id}',
    tag: 'chat',
    summary: 'A stored response (store: true), for the principal that created it',
    auth: ['agent', 'admin'],
    responses: { 200: { description: 'The Response object.', schema: responseObject } },
    errors: [401, 403, 404, 429, 503],
  },
  {
    id: 'deleteResponse',
    method: 'delete',
    path: '/v1/responses/{id}',
    tag: 'chat',
    summary: 'Deletes a stored response',
    auth: ['agent', 'admin'],
    responses: {
      200: {
        description: 'Deleted.',
        schema: z.object({ id: z.string(), object: z.literal('response'), deleted: z.literal(true) }),
      },
    },
    errors: [401, 403, 404, 429, 503],
  },
  {
    id: 'listResponseInputItems',
    method: 'get',
    path: '/v1/responses/{id}/input_items',
    tag: 'chat',
    summary: "A stored response's own input items, with ids (paged by after/before, newest first by default)",
    auth: ['agent', 'admin'],
    query: inputItemsQuerySchema,
    responses: {
      200: {
        description: 'OpenAI list of items.',
        schema: z.object({
          object: z.literal('list'),
          data: z.array(z.looseObject({ id: z.string(), type: z.string() })),
          first_id: z.string().nullable(),
          last_id: z.string().nullable(),
          has_more: z.boolean(),
        }),
      },
    },
    errors: [400, 401, 403, 404, 429, 503],
  },
  {
    id: 'createEmbeddings',
    method: 'post',
    path: '/v1/embeddings',
    tag: 'embed',
    summary: 'OpenAI Embeddings through the `embedding` role (or the model asked for)',
    auth: ['agent', 'admin'],
    body: embeddingsSchema,
    responses: { 200: { description: 'One vector per input, in order.', schema: embeddings } },
    errors: [400, 401, 403, 404, 413, 415, 429, 502, 503, 504],
  },
  {
    id: 'upsertVectors',
    method: 'post',
    path: '/v1/vectors/{collection}/upsert',
    tag: 'embed',
    summary:
      "Store points (text is embedded first) in the caller's own collection, or a shared one its role may write (403 otherwise); Qdrant, or pgvector without Qdrant",
    auth: ['agent', 'admin'],
    pathParams: { collection },
    body: upsertSchema,
    responses: { 200: { description: 'Stored.', schema: z.object({ upserted: z.number() }) } },
    errors: [400, 401, 403, 409, 413, 415, 429, 502, 503],
  },
  {
    id: 'searchVectors',
    method: 'post',
    path: '/v1/vectors/{collection}/search',
    tag: 'embed',
    summary:
      "Nearest points to a query text or vector, in the caller's own collection or a shared one its role may read",
    auth: ['agent', 'admin'],
    pathParams: { collection },
    body: searchSchema,
    responses: {
      200: {
        description: 'Best first.',
        schema: z.object({
          results: z.array(
            z.object({
              id: z.union([z.string(), z.number()]),
              score: z.number(),
              payload: z.record(z.string(), z.unknown()),
            }),
          ),
        }),
      },
    },
    errors: [400, 401, 403, 404, 409, 413, 415, 429, 502, 503],
  },
  {
    id: 'recordAction',
    method: 'post',
    path: '/v1/audit/actions',
    tag: 'audit',
    summary: 'Record an agent action in the ledger; gated categories wait for approval',
    description:
      '`agent_id` must be the key’s own id or one bound to it (else 403 `agent_mismatch`; admins may act as any). ' +
      'The registry (config/actions.yaml) decides the category: a claimed `category` is kept only when stricter, ' +
      'an unregistered tool or action type follows `unknown_tool` (gated), and `inputs` must satisfy the entry’s ' +
      'input schema (400 `invalid_inputs` naming the field). Every caller string is redacted before it is stored or hashed.',
    auth: ['agent', 'admin'],
    body: recordActionSchema,
    responses: { 201: { description: 'Recorded, or pending approval.', schema: actionCreated } },
    errors: [400, 401, 403, 413, 415, 429, 503],
  },
  {
    id: 'recordActions',
    method: 'post',
    path: '/v1/audit/actions:batch',
    tag: 'audit',
    summary: 'Record up to 500 actions at once, all or none, in one statement',
    description:
      'Each item is the body of `POST /v1/audit/actions`, prepared the same way (agent binding, registry, ' +
      'input schema, redaction, policy). The first item that fails fails the batch, naming its index in `param` ' +
      '(`actions.3.inputs.payment.amount`) and the message, and nothing is written. An item the policy gates is ' +
      'refused (400 `approval_required`, `param` `actions.N`): a gated action needs its own approval, wait and ' +
      'receipt, so record it alone. More than 500 items: 413 `batch_too_large`. Body limit 4 MiB. ' +
      '`data` lists the results in the order of `actions`.',
    auth: ['agent', 'admin'],
    body: recordBatchSchema,
    responses: {
      201: {
        description: 'Every action recorded, results in request order.',
        schema: z.object({ data: z.array(actionCreated.omit({ approval: true })) }),
      },
    },
    errors: [400, 401, 403, 413, 415, 429, 503],
  },
  {
    id: 'updateAction',
    method: 'patch',
    path: '/v1/audit/actions/{id}',
    tag: 'audit',
    summary: "Report an action's outcome (a gated action needs its approval receipt)",
    auth: ['agent', 'admin'],
    pathParams: { id: uuid },
    body: updateActionSchema,
    responses: {
      200: {
        description: 'Updated.',
        schema: z.object({ action_id: uuid, status: z.string(), previous_status: z.string() }),
      },
    },
    errors: [400, 401, 403, 404, 409, 413, 415, 429, 503],
  },
  {
    id: 'listActions',
    method: 'get',
    path: '/v1/audit/actions',
    tag: 'audit',
    summary: 'Actions, newest first, with cursor pagination',
    auth: true,
    query: listQuerySchema,
    responses: {
      200: {
        description: 'A page.',
        schema: z.object({ data: z.array(action), next_cursor: z.string().nullable() }),
      },
    },
    errors: [400, 401, 429, 503],
  },
  {
    id: 'getAction',
    method: 'get',
    path: '/v1/audit/actions/{id}',
    tag: 'audit',
    summary: 'One action with its ledger entries',
    auth: true,
    pathParams: { id: uuid },
    responses: {
      200: { description: 'The action.', schema: action.extend({ entries: z.array(z.looseObject({})) }) },
    },
    errors: [400, 401, 403, 404, 429, 503],
  },
  {
    id: 'verifyLedger',
    method: 'get',
    path: '/v1/audit/verify',
    tag: 'audit',
    summary: 'Recompute the chain and Merkle tree from every row and check every signed checkpoint',
    description:
      '`from`: verify from that seq on (a log whose prefix was archived): the tree of the rows before it comes ' +
      'from the stored nodes, checked through consistency proofs and the signed roots of later checkpoints.',
    auth: ['approver', 'admin'],
    query: verifyQuery,
    responses: {
      200: {
        description: 'ok, or the first row or checkpoint that does not verify.',
        schema: z.object({
          ok: z.boolean(),
          checked: z.number(),
          checkpoints: z.number(),
          tree_size: z.number(),
          from_seq: z.number(),
          first_bad: z.looseObject({}).optional(),
          first_bad_checkpoint: z.looseObject({}).optional(),
        }),
      },
    },
    errors: [400, 401, 403, 429, 503],
  },
  {
    id: 'createCheckpoint',
    method: 'post',
    path: '/v1/audit/checkpoints',
    tag: 'audit',
    summary: 'Seal what is queued and sign a checkpoint (C2SP signed note) of the tree now',
    auth: ['admin'],
    responses: {
      201: { description: 'The new checkpoint.', schema: checkpoint },
      200: { description: 'Nothing was added since the latest checkpoint: that one.', schema: checkpoint },
    },
    errors: [401, 403, 404, 429, 503],
  },
  {
    id: 'listCheckpoints',
    method: 'get',
    path: '/v1/audit/checkpoints',
    tag: 'audit',
    summary: 'Signed checkpoints, newest first',
    auth: true,
    query: z.object({ limit: z.number().int().min(1).max(200).optional(), cursor: z.string().optional() }),
    responses: {
      200: {
        description: 'A page; next_cursor when there is more.',
        schema: z.object({ data: z.array(checkpoint), next_cursor: z.string().nullable() }),
      },
    },
    errors: [400, 401, 429, 503],
  },
  {
    id: 'latestCheckpoint',
    method: 'get',
    path: '/v1/audit/checkpoint',
    tag: 'audit',
    summary: 'The latest signed checkpoint',
    auth: true,
    responses: { 200: { description: 'The checkpoint.', schema: checkpoint } },
    errors: [401, 404, 429, 503],
  },
  {
    id: 'ledgerPublicKey',
    method: 'get',
    path: '/v1/audit/public-key',
    tag: 'audit',
    summary: 'The Ed25519 key checkpoints are signed with (signed-note verifier key)',
    auth: true,
    responses: {
      200: {
        description: 'The key.',
        schema: z.object({
          key: z.string(),
          name: z.string(),
          key_id: z.string(),
          algorithm: z.string(),
          origin: z.string(),
          previous: z
            .array(z.object({ key: z.string(), name: z.string(), key_id: z.string() }))
            .describe(
              'Keys that signed older checkpoints (LEDGER_PREVIOUS_PUBLIC_KEYS), still accepted by verify.',
            ),
        }),
      },
    },
    errors: [401, 429, 503],
  },
  {
    id: 'actionInclusionProof',
    method: 'get',
    path: '/v1/audit/actions/{id}/proof',
    tag: 'audit',
    summary: "Inclusion proofs (RFC 6962) of an action's rows in the tree of a size",
    auth: true,
    pathParams: { id: uuid },
    query: z.object({ size: z.number().int().min(0).optional() }),
    responses: { 200: { description: 'The proofs.', schema: z.looseObject({}) } },
    errors: [400, 401, 404, 409, 429, 503],
  },
  {
    id: 'consistencyProof',
    method: 'get',
    path: '/v1/audit/consistency',
    tag: 'audit',
    summary: 'Consistency proof (RFC 6962) between two tree sizes',
    auth: true,
    query: z.object({ from: z.number().int().min(0), to: z.number().int().min(0) }),
    responses: {
      200: {
        description: 'The proof and both roots.',
        schema: z.object({
          from: z.number(),
          to: z.number(),
          from_root: z.string(),
          to_root: z.string(),
          proof: z.array(z.string()),
        }),
      },
    },
    errors: [400, 401, 429, 503],
  },
  {
    id: 'listApprovals',
    method: 'get',
    path: '/v1/approvals',
    tag: 'approval',
    summary: 'The approver’s queue: filtered to what the caller may decide, newest first, cursor-paginated',
    auth: ['approver', 'admin'],
    query: listApprovalsQuerySchema,
    responses: {
      200: {
        description: 'Approvals; `next_cursor` is null on the last page.',
        schema: z.object({ data: z.array(approval), next_cursor: z.string().nullable() }),
      },
    },
    errors: [400, 401, 403, 429, 503],
  },
  {
    id: 'getApproval',
    method: 'get',
    path: '/v1/approvals/{id}',
    tag: 'approval',
    summary: 'One approval; `?wait=<s>` long-polls until it is decided (up to 25 s)',
    auth: true,
    pathParams: { id: uuid },
    query: waitQuerySchema,
    responses: { 200: { description: 'The approval.', schema: approval } },
    errors: [400, 401, 403, 404, 429, 503],
  },
  {
    id: 'decideApproval',
    method: 'post',
    path: '/v1/approvals/{id}/decision',
    tag: 'approval',
    summary: 'Approve or reject; the first decision wins, the same one again is idempotent',
    auth: ['approver', 'admin'],
    pathParams: { id: uuid },
    body: decisionSchema,
    responses: { 200: { description: 'The decided approval.', schema: approval } },
    errors: [400, 401, 403, 404, 409, 410, 413, 415, 429, 503],
  },
  {
    id: 'approvalsPage',
    method: 'get',
    path: '/approvals',
    tag: 'approval',
    summary: 'Web page where approvers log in with their key and decide pending actions',
    auth: false,
    responses: {
      200: {
        description: 'HTML; one same-origin script refreshes the pending list (CSP allows nothing else).',
        html: true,
      },
    },
  },
  ...(['/mcp', '/mcp/{server}'] as const).map(
    (path): Operation => ({
      id: path === '/mcp' ? 'mcp' : 'mcpServer',
      method: 'post',
      path,
      tag: 'mcp',
      summary:
        path === '/mcp'
          ? 'MCP (Streamable HTTP, stateless): every server of config/mcp.yaml, tools named `<server>__<tool>`'
          : 'MCP (Streamable HTTP, stateless): one server of config/mcp.yaml under its own tool names',
      description:
        'A JSON-RPC 2.0 message (initialize, tools/list, tools/call, resources/*, prompts/*), answered as ' +
        'JSON. tools/call is validated against the tool schema, audited, and gated by config/policies.yaml; ' +
        'a gated call waits up to `wait_seconds` and then answers an `isError` result naming the approval. ' +
        'GET and DELETE answer 405 (no sessions). docs/MCP.md.',
      auth: ['agent', 'admin'],
      ...(path === '/mcp' ? {} : { pathParams: { server: z.string() } }),
      body: z.looseObject({
        jsonrpc: z.literal('2.0'),
        method: z.string(),
        id: z.union([z.string(), z.number()]).optional(),
      }),
      headers: { accept: 'Must accept application/json and text/event-stream (MCP clients do).' },
      responses: {
        200: { description: 'The JSON-RPC response.', schema: z.looseObject({ jsonrpc: z.literal('2.0') }) },
        202: { description: 'A notification or response was accepted.' },
      },
      errors: [401, 403, 404, 413, 415, 429],
    }),
  ),
  ...(['get', 'post', 'put', 'patch', 'delete'] as const).map(
    (method): Operation => ({
      id: `integration_${method}`,
      method,
      path: '/v1/integrations/{name}/{path}',
      tag: 'integrations',
      summary: `${method.toUpperCase()} through the integration proxy to config/integrations.yaml's \`name\``,
      description:
        'The credential is injected; allowed methods and path prefixes are per integration. Writes are ' +
        'audited; risky routes answer 202 with an approval, then go through once when repeated with ' +
        '`x-mas-action-id` and `x-mas-approval-receipt`.',
      auth: ['agent', 'admin'],
      pathParams: { name: z.string(), path: z.string() },
      headers:
        method === 'get'
          ? {}
          : {
              'idempotency-key': 'Makes a write safe to retry.',
              'x-mas-action-id': 'The gated action, when repeating an approved request.',
              'x-mas-approval-receipt': 'The receipt of that approval.',
            },
      responses: {
        200: { description: "The upstream's answer, streamed as it comes." },
        ...(method === 'get'
          ? {}
          : {
              202: {
                description: 'Waiting for approval.',
                schema: actionCreated.extend({ status: z.string() }),
              },
            }),
      },
      errors: [401, 403, 404, 429, 502, 504],
    }),
  ),
  ...USAGE_OPERATIONS,
];
