import type { ChatRequest } from '../types.ts';
import type { Content, GenerateContentConfig, Part } from './gemini-wire.ts';

interface OpenAIMessage {
  role: string;
  content?: string | Array<{ type: string; text?: string; image_url?: { url: string } }> | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  name?: string;
}

export interface GeminiRequest {
  contents: Content[];
  config: GenerateContentConfig;
}

/**
 * OpenAI chat request → Gemini `generateContent`: system/developer messages become the system
 * instruction, `assistant` becomes `model`, images become inline data or file URIs, tool calls
 * and tool results become functionCall / functionResponse parts with their ids kept, and the
 * sampling options, stop, response_format and tool_choice map to their Gemini fields.
 */
export function toGeminiRequest(request: ChatRequest): GeminiRequest {
  const messages = request.messages as OpenAIMessage[];
  const system: string[] = [];
  const contents: Content[] = [];
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'developer') {
      system.push(textOf(message.content));
      continue;
    }
    if (message.role === 'tool') {
      const name = toolNames.get(message.tool_call_id ?? '') ?? message.name ?? 'tool';
      push(contents, 'user', [
        {
          functionResponse: {
            id: message.tool_call_id,
            name,
            response: toolResponse(textOf(message.content)),
          },
        },
      ]);
      continue;
    }
    const role = message.role === 'assistant' ? 'model' : 'user';
    const parts: Part[] = contentParts(message.content);
    for (const call of message.tool_calls ?? []) {
      toolNames.set(call.id, call.function.name);
      parts.push({
        functionCall: { id: call.id, name: call.function.name, args: parseArgs(call.function.arguments) },
      });
    }
    if (parts.length) push(contents, role, parts);
  }

  const config: GenerateContentConfig = {};
  if (system.length) config.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  if (typeof request.temperature === 'number') config.temperature = request.temperature;
  if (typeof request.top_p === 'number') config.topP = request.top_p;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (typeof maxTokens === 'number') config.maxOutputTokens = maxTokens;
  if (typeof request.n === 'number') config.candidateCount = request.n;
  if (typeof request.seed === 'number') config.seed = request.seed;
  if (request.stop)
    config.stopSequences = Array.isArray(request.stop) ? (request.stop as string[]) : [String(request.stop)];
  const format = request.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.json_schema?.schema) config.responseJsonSchema = format.json_schema.schema;
  }
  const tools = request.tools as
    | Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }>
    | undefined;
  if (tools?.length) {
    config.tools = [
      {
        functionDeclarations: tools
          .filter((t) => t.type === 'function')
          .map((t) => ({
            name: t.function.name,
            ...(t.function.description ? { description: t.function.description } : {}),
            ...(t.function.parameters ? { parametersJsonSchema: t.function.parameters } : {}),
          })),
      },
    ];
  }
  const choice = request.tool_choice as string | { type: string; function?: { name: string } } | undefined;
  if (choice) {
    const mode = typeof choice === 'string' ? { none: 'NONE', auto: 'AUTO', required: 'ANY' }[choice] : 'ANY';
    const allowed = typeof choice === 'object' && choice.function ? [choice.function.name] : undefined;
    config.toolConfig = {
      functionCallingConfig: { mode: mode as never, ...(allowed ? { allowedFunctionNames: allowed } : {}) },
    };
  }
  return { contents, config };
}

/** Gemini wants alternating turns: consecutive messages of one role are merged. */
function push(contents: Content[], role: 'user' | 'model', parts: Part[]) {
  const last = contents[contents.length - 1];
  if (last && last.role === role) last.parts = [...(last.parts ?? []), ...parts];
  else contents.push({ role, parts });
}

function contentParts(content: OpenAIMessage['content']): Part[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return content.flatMap((part): Part[] => {
    if (part.type === 'text' && part.text) return [{ text: part.text }];
    if (part.type === 'image_url' && part.image_url?.url) return [imagePart(part.image_url.url)];
    return [];
  });
}

function imagePart(url: string): Part {
  const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
  if (data) return { inlineData: { mimeType: data[1]!, data: data[2]! } };
  const ext = url.split('?')[0]!.split('.').pop()?.toLowerCase();
  const mimeType =
    ext === 'png' ? 'image/png' : ext === 'webp' ? 'image/webp' : ext === 'gif' ? 'image/gif' : 'image/jpeg';
  return { fileData: { fileUri: url, mimeType } };
}

function textOf(content: OpenAIMessage['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((p) => (p.type === 'text' ? (p.text ?? '') : '')).join('');
}

function parseArgs(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text || '{}');
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : { value: parsed };
  } catch {
    return { raw: text };
  }
}

/** Gemini's functionResponse.response must be an object: JSON results as is, text wrapped. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    return { result: parsed };
  } catch {
    return { result: text };
  }
}
