import { ProviderError } from '../../provider-error.ts';
import type { ChatRequest } from '../types.ts';
import type {
  AnthropicBlock,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicTool,
  AnthropicToolChoice,
} from './anthropic-wire.ts';

/**
 * A request Anthropic cannot take as asked: the caller's 400 (no retry, no fallback), naming the
 * field at fault. Thrown as a ProviderError so the router treats it like an upstream 400.
 */
function unsupported(message: string, param: string): ProviderError {
  return new ProviderError('anthropic', `${message} (${param})`, {
    status: 400,
    code: 'invalid_request',
    retryable: false,
    fallback: false,
  });
}

/** What Anthropic requires and OpenAI callers often leave out. */
export const DEFAULT_MAX_TOKENS = 4096;

interface OpenAIPart {
  type: string;
  text?: string;
  refusal?: string;
  image_url?: { url: string } | string;
  file?: { file_data?: string; filename?: string };
}

interface OpenAIMessage {
  role: string;
  content?: string | OpenAIPart[] | null;
  tool_calls?: Array<{ id: string; type?: string; function: { name: string; arguments?: string } }>;
  tool_call_id?: string;
}

interface OpenAITool {
  type: string;
  function?: { name: string; description?: string; parameters?: unknown; strict?: boolean | null };
}

/**
 * OpenAI chat request → Anthropic Messages request: system and developer messages become
 * `system`; `tool` messages become `tool_result` blocks in a user turn and assistant `tool_calls`
 * become `tool_use` blocks (ids kept); consecutive same-role turns are merged (Anthropic wants
 * user and assistant to alternate); images become base64 or url sources; `max_tokens` gets a
 * default because Anthropic requires one. `response_format: json_schema` uses Anthropic's
 * structured output (`output_config.format`), not a forced tool: newer Claude models refuse
 * forced tool use, and the answer stays plain text content as OpenAI callers expect.
 */
export function toAnthropicRequest(
  request: ChatRequest,
  upstreamModel: string,
  defaultMaxTokens = DEFAULT_MAX_TOKENS,
): AnthropicRequest {
  if (typeof request.n === 'number' && request.n > 1)
    throw unsupported('Anthropic models return one choice: `n` must be 1.', 'n');
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  for (const [i, message] of (request.messages as OpenAIMessage[]).entries()) {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOf(message.content, `messages.${i}.content`));
        break;
      case 'user':
        pushTurn(messages, 'user', userBlocks(message.content, `messages.${i}.content`));
        break;
      case 'assistant':
        pushTurn(messages, 'assistant', assistantBlocks(message, i));
        break;
      case 'tool':
        pushTurn(messages, 'user', [
          {
            type: 'tool_result',
            tool_use_id: message.tool_call_id ?? '',
            content: textOf(message.content, `messages.${i}.content`),
          },
        ]);
        break;
      default:
        throw unsupported(
          `Role '${message.role}' cannot be sent to an Anthropic model; use tool messages.`,
          `messages.${i}.role`,
        );
    }
  }

  const out: AnthropicRequest = {
    model: upstreamModel,
    max_tokens:
      positiveInt(request.max_completion_tokens) ?? positiveInt(request.max_tokens) ?? defaultMaxTokens,
    messages,
  };
  const format = request.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  // No JSON mode upstream: the instruction is the closest Anthropic equivalent.
  if (format?.type === 'json_object') system.push('Respond with a single JSON object and nothing else.');
  if (format?.type === 'json_schema' && format.json_schema?.schema) {
    out.output_config = { format: { type: 'json_schema', schema: format.json_schema.schema } };
  }
  if (system.length) out.system = system.join('\n\n');
  if (request.stop)
    out.stop_sequences = Array.isArray(request.stop) ? request.stop.map(String) : [String(request.stop)];
  // OpenAI allows temperature up to 2, Anthropic up to 1.
  if (typeof request.temperature === 'number') out.temperature = Math.min(1, request.temperature);
  if (typeof request.top_p === 'number') out.top_p = request.top_p;
  if (typeof request.user === 'string' && request.user) out.metadata = { user_id: request.user };

  const tools = (request.tools as OpenAITool[] | undefined)?.filter(
    (t) => t.type === 'function' && t.function,
  );
  if (tools?.length) out.tools = tools.map(toAnthropicTool);
  const choice = toAnthropicToolChoice(request.tool_choice, request.parallel_tool_calls === false);
  // Anthropic takes tool_choice only beside tools; without tools `none` is what happens anyway.
  if (choice && tools?.length) out.tool_choice = choice;
  return out;
}

function toAnthropicTool(tool: OpenAITool): AnthropicTool {
  const fn = tool.function!;
  return {
    name: fn.name,
    ...(fn.description ? { description: fn.description } : {}),
    input_schema: fn.parameters ?? { type: 'object', properties: {} },
    ...(fn.strict ? { strict: true } : {}),
  };
}

/** auto/none/required/named → auto/none/any/tool; `parallel_tool_calls: false` rides along. */
export function toAnthropicToolChoice(choice: unknown, noParallel: boolean): AnthropicToolChoice | undefined {
  const parallel = noParallel ? { disable_parallel_tool_use: true } : {};
  if (choice === 'auto') return { type: 'auto', ...parallel };
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...parallel };
  if (choice && typeof choice === 'object') {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    if (typeof name === 'string') return { type: 'tool', name, ...parallel };
  }
  return noParallel ? { type: 'auto', disable_parallel_tool_use: true } : undefined;
}

/** Anthropic wants alternating turns: a second user (or assistant) turn in a row is merged. */
function pushTurn(messages: AnthropicMessage[], role: 'user' | 'assistant', blocks: AnthropicBlock[]): void {
  if (blocks.length === 0) return;
  const last = messages[messages.length - 1];
  if (last && last.role === role) {
    (last.content as AnthropicBlock[]).push(...blocks);
    // tool_result blocks must come first in a user turn.
    if (role === 'user') (last.content as AnthropicBlock[]).sort(toolResultsFirst);
    return;
  }
  messages.push({ role, content: blocks });
}

const toolResultsFirst = (a: AnthropicBlock, b: AnthropicBlock) =>
  Number(b.type === 'tool_result') - Number(a.type === 'tool_result');

function userBlocks(content: OpenAIMessage['content'], param: string): AnthropicBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return content.flatMap((part, i): AnthropicBlock[] => {
    if (part.type === 'text') return part.text ? [{ type: 'text', text: part.text }] : [];
    if (part.type === 'image_url') {
      const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
      if (!url) throw unsupported('image_url needs a url.', `${param}.${i}.image_url`);
      return [{ type: 'image', source: imageSource(url, `${param}.${i}.image_url`) }];
    }
    if (part.type === 'file' && part.file?.file_data) {
      const data = dataUrl(part.file.file_data);
      if (data?.mediaType === 'application/pdf')
        return [
          { type: 'document', source: { type: 'base64', media_type: data.mediaType, data: data.data } },
        ];
    }
    throw unsupported(`Content part '${part.type}' cannot be sent to an Anthropic model.`, `${param}.${i}`);
  });
}

function assistantBlocks(message: OpenAIMessage, i: number): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  const text = message.content == null ? '' : textOf(message.content, `messages.${i}.content`);
  if (text) blocks.push({ type: 'text', text });
  message.tool_calls?.forEach((call, j) => {
    blocks.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseArguments(call.function.arguments, `messages.${i}.tool_calls.${j}.function.arguments`),
    });
  });
  return blocks;
}

function parseArguments(args: string | undefined, param: string): unknown {
  if (!args) return {};
  try {
    const parsed = JSON.parse(args) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw unsupported('Tool call arguments must be a JSON object.', param);
}

function textOf(content: OpenAIMessage['content'], param: string): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, i) => {
      if (part.type === 'text') return part.text ?? '';
      if (part.type === 'refusal') return part.refusal ?? '';
      throw unsupported(`Only text parts are allowed here, not '${part.type}'.`, `${param}.${i}`);
    })
    .join('');
}

function imageSource(url: string, param: string) {
  if (url.startsWith('data:')) {
    const data = dataUrl(url);
    if (!data) throw unsupported('An image data URL must be base64 (data:<type>;base64,...).', param);
    return { type: 'base64' as const, media_type: data.mediaType, data: data.data };
  }
  if (!/^https?:\/\//i.test(url)) throw unsupported('An image URL must be http(s) or a data URL.', param);
  return { type: 'url' as const, url };
}

function dataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([\w.+-]+\/[\w.+-]+);base64,(.*)$/s.exec(url);
  return match ? { mediaType: match[1]!, data: match[2]! } : undefined;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
