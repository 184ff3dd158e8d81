import { AppError, badRequest } from '../../errors/index.ts';
import type { ChatCompletion, ChatRequest, Usage } from '../providers/types.ts';
import type {
  FunctionCallItem,
  InputItem,
  MessageItem,
  OutputItem,
  ResponseObject,
  ResponsesRequest,
  ResponseUsage,
} from './types.ts';

/**
 * The Responses API ⇄ Chat Completions, both ways, for upstreams that only speak chat (Gemini
 * through its chat translation, OpenAI-compatible servers). What has no chat equivalent
 * (built-in tools, reasoning items, files) is refused with a 400 naming it, rather than dropped
 * in silence; reasoning items from an earlier native turn are the one exception (they are
 * the model's own scratch state, and chat has nowhere to put them).
 */

type ChatMessage = Record<string, unknown> & { role: string };
interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export function newId(prefix: 'resp' | 'msg' | 'fc' | 'fco'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Input as items, each with an id (OpenAI lists them under /input_items with ids). */
export function normalizeInput(input: ResponsesRequest['input']): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') {
    return [
      { id: newId('msg'), type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] },
    ];
  }
  return input.map((raw): InputItem => {
    const item = { ...raw } as InputItem;
    if (item.type === undefined && 'role' in item) item.type = 'message';
    if (item.type === 'message') {
      const message = item as MessageItem;
      if (typeof message.content === 'string') {
        message.content =
          message.role === 'assistant'
            ? [{ type: 'output_text', text: message.content, annotations: [], logprobs: [] }]
            : [{ type: 'input_text', text: message.content }];
      }
    }
    if (!item.status && ['message', 'function_call', 'function_call_output'].includes(String(item.type))) {
      item.status = 'completed';
    }
    if (typeof item.id !== 'string') {
      item.id = newId(
        item.type === 'function_call' ? 'fc' : item.type === 'function_call_output' ? 'fco' : 'msg',
      );
    }
    return item;
  });
}

/** Text of a content part list (or string), for roles chat takes as plain text. */
function textOf(content: MessageItem['content']): string {
  if (typeof content === 'string') return content;
  return content
    .map((p) => (typeof p.text === 'string' ? p.text : typeof p.refusal === 'string' ? p.refusal : ''))
    .join('');
}

function userContent(content: MessageItem['content'], index: number): unknown {
  if (typeof content === 'string') return content;
  if (content.every((p) => p.type === 'input_text' || p.type === 'output_text')) return textOf(content);
  return content.map((p, j) => {
    if (p.type === 'input_text' || p.type === 'output_text') return { type: 'text', text: p.text };
    if (p.type === 'input_image') {
      if (typeof p.image_url !== 'string') {
        throw badRequest(
          'input_image needs image_url (a URL or data URL) for this model; file_id is not supported.',
          `input[${index}].content[${j}]`,
          'unsupported_content',
        );
      }
      return {
        type: 'image_url',
        image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) },
      };
    }
    throw badRequest(
      `Content part '${String(p.type)}' cannot be sent to a chat-only model.`,
      `input[${index}].content[${j}]`,
      'unsupported_content',
    );
  });
}

/** A Responses request (with its history, from previous_response_id) as a chat request. */
export function toChatRequest(request: ResponsesRequest, items: InputItem[]): ChatRequest {
  const messages: ChatMessage[] = [];
  if (request.instructions) messages.push({ role: 'system', content: request.instructions });
  items.forEach((item, index) => {
    if (item.type === 'message') {
      const m = item as MessageItem;
      if (m.role === 'assistant') messages.push({ role: 'assistant', content: textOf(m.content) });
      else if (m.role === 'user') messages.push({ role: 'user', content: userContent(m.content, index) });
      else messages.push({ role: m.role, content: textOf(m.content) });
    } else if (item.type === 'function_call') {
      const call = item as FunctionCallItem;
      const toolCall: ChatToolCall = {
        id: call.call_id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      };
      // Consecutive calls (and the text before them) are one assistant turn in chat.
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') {
        last.tool_calls = [...((last.tool_calls as ChatToolCall[] | undefined) ?? []), toolCall];
        if (last.content === '') last.content = null;
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
      }
    } else if (item.type === 'function_call_output') {
      const output = item.output;
      messages.push({
        role: 'tool',
        tool_call_id: String(item.call_id),
        content: typeof output === 'string' ? output : textOf(output as MessageItem['content']),
      });
    } else if (item.type === 'reasoning') {
      // A native model's own reasoning state: meaningless to another model, and not text.
    } else {
      throw badRequest(
        `Input item type '${String(item.type)}' cannot be sent to a chat-only model; route to an OpenAI model for it.`,
        `input[${index}]`,
        'unsupported_input_item',
      );
    }
  });
  if (messages.length === 0) throw badRequest('Give `input` (a string or items).', 'input');

  const chat: ChatRequest = { messages };
  if (request.tools?.length) {
    chat.tools = request.tools.map((tool, i) => {
      if (tool.type !== 'function') {
        throw badRequest(
          `Tool type '${String(tool.type)}' is an OpenAI built-in tool; only function tools can be sent to this model.`,
          `tools[${i}]`,
          'unsupported_tool',
        );
      }
      return {
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description != null ? { description: tool.description } : {}),
          ...(tool.parameters != null ? { parameters: tool.parameters } : {}),
          ...(tool.strict != null ? { strict: tool.strict } : {}),
        },
      };
    });
  }
  const choice = request.tool_choice;
  if (choice !== undefined) {
    if (typeof choice === 'string') chat.tool_choice = choice;
    else if (choice.type === 'function')
      chat.tool_choice = { type: 'function', function: { name: choice.name } };
    else
      throw badRequest(
        `tool_choice '${choice.type}' needs an OpenAI model.`,
        'tool_choice',
        'unsupported_tool',
      );
  }
  const format = request.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    chat.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.description != null ? { description: format.description } : {}),
        ...(format.strict != null ? { strict: format.strict } : {}),
      },
    };
  }
  if (request.max_output_tokens != null) chat.max_tokens = request.max_output_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  if (request.parallel_tool_calls != null && chat.tools)
    chat.parallel_tool_calls = request.parallel_tool_calls;
  if (request.reasoning?.effort) chat.reasoning_effort = request.reasoning.effort;
  if (request.user) chat.user = request.user;
  return chat;
}

/** The inverse of toChatRequest (for the property tests, and callers holding chat history). */
export function fromChatRequest(chat: ChatRequest): { request: ResponsesRequest; items: InputItem[] } {
  const messages = chat.messages as ChatMessage[];
  let instructions: string | undefined;
  const items: InputItem[] = [];
  messages.forEach((m, i) => {
    if (i === 0 && m.role === 'system') {
      instructions = String(m.content);
      return;
    }
    if (m.role === 'tool') {
      items.push({
        type: 'function_call_output',
        call_id: String(m.tool_call_id),
        output: String(m.content),
      });
      return;
    }
    const text = typeof m.content === 'string' ? m.content : '';
    if (m.role === 'assistant') {
      if (text || !m.tool_calls) {
        items.push({
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text, annotations: [] }],
        });
      }
      for (const call of (m.tool_calls as ChatToolCall[] | undefined) ?? []) {
        items.push({
          type: 'function_call',
          call_id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
        });
      }
      return;
    }
    items.push({
      type: 'message',
      role: m.role as MessageItem['role'],
      content: [{ type: 'input_text', text }],
    });
  });
  const request: ResponsesRequest = { input: items };
  if (instructions !== undefined) request.instructions = instructions;
  return { request, items };
}

export function toResponseUsage(usage: Usage | null | undefined): ResponseUsage | null {
  if (!usage) return null;
  const input = usage.prompt_tokens ?? 0;
  const output = usage.completion_tokens ?? 0;
  const details = usage as {
    prompt_tokens_details?: { cached_tokens?: number };
    completion_tokens_details?: { reasoning_tokens?: number };
  };
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: details.prompt_tokens_details?.cached_tokens ?? 0,
      cache_write_tokens: 0,
    },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: details.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens ?? input + output,
  };
}

export function toChatUsage(usage: ResponseUsage | null | undefined): Usage | undefined {
  if (!usage) return undefined;
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
  };
}

/** The Response object's fields that echo the request, as OpenAI fills them. */
export function responseShell(
  request: ResponsesRequest,
  meta: { id: string; model: string; createdAt: number; store: boolean },
): ResponseObject {
  const format = request.text?.format ?? { type: 'text' };
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: meta.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: meta.store,
    temperature: request.temperature ?? 1,
    text: { format },
    tool_choice: request.tool_choice ?? 'auto',
    tools: (request.tools ?? []).map((t) => ({ strict: true, parameters: null, description: null, ...t })),
    top_p: request.top_p ?? 1,
    truncation: 'disabled',
    ...(request.user ? { user: request.user } : {}),
    metadata: request.metadata ?? {},
  };
}

const INCOMPLETE: Record<string, string> = { length: 'max_output_tokens', content_filter: 'content_filter' };

/** A chat completion's first choice as a Response: a message item (text or refusal), then calls. */
export function fromChatCompletion(completion: ChatCompletion, shell: ResponseObject): ResponseObject {
  const choice = (completion.choices as Array<Record<string, unknown>> | undefined)?.[0];
  const message = (choice?.message ?? {}) as {
    content?: string | null;
    refusal?: string | null;
    tool_calls?: ChatToolCall[];
  };
  const output: OutputItem[] = [];
  if (message.content || message.refusal || !message.tool_calls?.length) {
    output.push(
      messageItem(
        newId('msg'),
        message.refusal ? { refusal: message.refusal } : { text: message.content ?? '' },
      ),
    );
  }
  for (const call of message.tool_calls ?? []) {
    output.push(functionCallItem(newId('fc'), call.id, call.function.name, call.function.arguments));
  }
  return finish(shell, output, String(choice?.finish_reason ?? 'stop'), toResponseUsage(completion.usage));
}

export function messageItem(
  id: string,
  content: { text: string } | { refusal: string },
  status = 'completed',
) {
  return {
    id,
    type: 'message' as const,
    status,
    role: 'assistant' as const,
    content: [
      'refusal' in content
        ? { type: 'refusal', refusal: content.refusal }
        : { type: 'output_text', text: content.text, annotations: [], logprobs: [] },
    ],
  };
}

export function functionCallItem(
  id: string,
  callId: string,
  name: string,
  args: string,
  status = 'completed',
) {
  return { id, type: 'function_call' as const, status, call_id: callId, name, arguments: args };
}

export function finish(
  shell: ResponseObject,
  output: OutputItem[],
  finishReason: string,
  usage: ResponseUsage | null,
): ResponseObject {
  const incomplete = INCOMPLETE[finishReason];
  return {
    ...shell,
    status: incomplete ? 'incomplete' : 'completed',
    completed_at: incomplete ? null : Math.floor(Date.now() / 1000),
    incomplete_details: incomplete ? { reason: incomplete } : null,
    output,
    ...(usage ? { usage } : {}),
  };
}

/** The inverse of fromChatCompletion: a Response as a chat completion. */
export function toChatCompletion(response: ResponseObject): ChatCompletion {
  let text = '';
  let refusal: string | null = null;
  const toolCalls: ChatToolCall[] = [];
  for (const item of response.output) {
    if (item.type === 'message') {
      for (const part of (item as MessageItem).content as Array<Record<string, unknown>>) {
        if (part.type === 'output_text') text += String(part.text);
        if (part.type === 'refusal') refusal = String(part.refusal);
      }
    } else if (item.type === 'function_call') {
      const call = item as FunctionCallItem;
      toolCalls.push({
        id: call.call_id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      });
    }
  }
  const reason = response.incomplete_details?.reason;
  return {
    id: response.id,
    object: 'chat.completion',
    created: response.created_at,
    model: response.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: toolCalls.length && !text ? null : text,
          refusal,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        finish_reason:
          reason === 'max_output_tokens'
            ? 'length'
            : reason === 'content_filter'
              ? 'content_filter'
              : toolCalls.length
                ? 'tool_calls'
                : 'stop',
      },
    ],
    usage: toChatUsage(response.usage),
  };
}

/**
 * What a follow-up turn (previous_response_id) continues from: everything the earlier turn was
 * sent, then its output. Item ids are dropped (an upstream that did not store them would look
 * them up and fail), and so are reasoning items without encrypted content (only the upstream
 * that made them could read them back).
 */
export function continuation(previous: {
  history: InputItem[];
  inputItems: InputItem[];
  response: { output: OutputItem[] };
}): InputItem[] {
  return [...previous.history, ...previous.inputItems, ...(previous.response.output as InputItem[])];
}

/** Items as an upstream is sent them: without our ids, without unreadable reasoning. */
export function upstreamItems(items: InputItem[]): InputItem[] {
  return items
    .filter((item) => item.type !== 'reasoning' || typeof item.encrypted_content === 'string')
    .map(({ id: _id, ...rest }) => rest);
}

export function notFoundResponse(id: string): AppError {
  return new AppError(404, 'response_not_found', `No response with id '${id}' (or it expired).`, {
    param: 'response_id',
  });
}
