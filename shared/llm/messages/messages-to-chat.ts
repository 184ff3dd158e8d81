import { ProviderError } from '../provider-error.ts';
import type {
  AnthropicBlock,
  AnthropicMessage,
  AnthropicRequest,
} from '../providers/anthropic/anthropic-wire.ts';
import type { ChatRequest } from '../providers/types.ts';

type ChatMessage = Record<string, unknown> & { role: string };
type ChatPart = Record<string, unknown> & { type: string };

/**
 * An inbound Anthropic Messages request → an OpenAI chat request, for models that are not
 * Anthropic's: `system` becomes a system message; `tool_result` blocks become `tool` messages
 * (placed first, right after the assistant turn that called them, as OpenAI requires) and
 * `tool_use` blocks become `tool_calls`, ids kept; images become image_url parts (base64 as data
 * URLs); PDFs become file parts; `tool_choice` any/tool → required/named; `output_config.format`
 * json_schema → response_format. Thinking blocks and `thinking` are dropped (no counterpart);
 * server tools, citations-only blocks and other block types are refused with a 400 that names
 * them (docs/LLM.md lists the limits).
 */
export function messagesToChat(body: AnthropicRequest): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = systemText(body.system);
  if (system) messages.push({ role: 'system', content: system });
  body.messages.forEach((message, i) => {
    if (message.role === 'assistant') messages.push(assistantMessage(message, i));
    else messages.push(...userMessages(message, i));
  });
  const out: ChatRequest = { messages, max_tokens: body.max_tokens };
  if (body.stop_sequences?.length) out.stop = body.stop_sequences;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (body.metadata?.user_id) out.user = body.metadata.user_id;
  if (body.tools?.length) {
    out.tools = body.tools.map((tool, i) => {
      if (!tool.input_schema || (tool.type && tool.type !== 'custom'))
        throw untranslatable(`Server tool '${tool.type ?? tool.name}' runs on Anthropic only`, `tools.${i}`);
      return {
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          parameters: tool.input_schema,
          ...(tool.strict === true ? { strict: true } : {}),
        },
      };
    });
  }
  const choice = body.tool_choice;
  if (choice) {
    if (choice.type === 'auto') out.tool_choice = 'auto';
    if (choice.type === 'none') out.tool_choice = 'none';
    if (choice.type === 'any') out.tool_choice = 'required';
    if (choice.type === 'tool') out.tool_choice = { type: 'function', function: { name: choice.name } };
    if (choice.disable_parallel_tool_use && out.tools) out.parallel_tool_calls = false;
  }
  const format = body.output_config?.format;
  if (format?.type === 'json_schema') {
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: format.schema, strict: true },
    };
  }
  if (body.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

export function systemText(system: AnthropicRequest['system']): string {
  if (!system) return '';
  if (typeof system === 'string') return system;
  return system.map((block) => block.text).join('\n\n');
}

function userMessages(message: AnthropicMessage, i: number): ChatMessage[] {
  if (typeof message.content === 'string') return [{ role: 'user', content: message.content }];
  const tools: ChatMessage[] = [];
  const parts: ChatPart[] = [];
  message.content.forEach((block, j) => {
    const param = `messages.${i}.content.${j}`;
    if (block.type === 'tool_result') {
      const result = block as Extract<AnthropicBlock, { type: 'tool_result' }>;
      const text = resultText(result.content, param);
      tools.push({
        role: 'tool',
        tool_call_id: result.tool_use_id,
        // OpenAI has no error flag on tool results: the text says so.
        content: result.is_error ? `Error: ${text}` : text,
      });
    } else {
      parts.push(userPart(block, param));
    }
  });
  const out = [...tools];
  if (parts.length) {
    const allText = parts.every((p) => p.type === 'text');
    out.push({
      role: 'user',
      content: allText ? parts.map((p) => p.text).join('\n\n') : parts,
    });
  }
  return out;
}

function userPart(block: AnthropicBlock, param: string): ChatPart {
  if (block.type === 'text') return { type: 'text', text: String(block.text) };
  if (block.type === 'image') {
    const source = block.source as { type: string; media_type?: string; data?: string; url?: string };
    if (source.type === 'base64')
      return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
    if (source.type === 'url') return { type: 'image_url', image_url: { url: String(source.url) } };
  }
  if (block.type === 'document') {
    const source = block.source as { type: string; media_type?: string; data?: string };
    if (source.type === 'base64' && source.media_type === 'application/pdf')
      return {
        type: 'file',
        file: { file_data: `data:application/pdf;base64,${source.data}`, filename: 'document.pdf' },
      };
    if (source.type === 'text' && typeof (source as { data?: unknown }).data === 'string')
      return { type: 'text', text: String(source.data) };
  }
  throw untranslatable(`Content block '${block.type}' has no Chat Completions counterpart`, param);
}

function assistantMessage(message: AnthropicMessage, i: number): ChatMessage {
  if (typeof message.content === 'string') return { role: 'assistant', content: message.content };
  let text = '';
  const calls: unknown[] = [];
  message.content.forEach((block, j) => {
    if (block.type === 'text') text += String(block.text);
    else if (block.type === 'tool_use') {
      calls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      throw untranslatable(
        `Content block '${block.type}' has no Chat Completions counterpart`,
        `messages.${i}.content.${j}`,
      );
    }
  });
  return {
    role: 'assistant',
    content: text || (calls.length ? null : ''),
    ...(calls.length ? { tool_calls: calls } : {}),
  };
}

function resultText(content: string | AnthropicBlock[] | undefined, param: string): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((block) => {
      if (block.type === 'text') return String(block.text);
      throw untranslatable(
        `A tool_result with '${block.type}' content cannot go to a non-Anthropic model`,
        param,
      );
    })
    .join('\n\n');
}

/** A request only Anthropic can serve: the caller's 400, naming the field. */
function untranslatable(message: string, param: string): ProviderError {
  return new ProviderError('messages', `${message} (${param}).`, {
    status: 400,
    code: 'invalid_request',
    retryable: false,
    fallback: false,
  });
}
