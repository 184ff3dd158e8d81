/**
 * The parts of OpenAI's Responses API shapes this gateway reads or builds. Bodies are validated
 * loosely (shared/llm/responses/schema.ts): fields we do not read pass through to native
 * upstreams untouched.
 */
export interface ContentPart {
  type: string;
  text?: string;
  refusal?: string;
  image_url?: string;
  detail?: string;
  [extra: string]: unknown;
}

export interface MessageItem {
  id?: string;
  type: 'message';
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: string | ContentPart[];
  status?: string;
  [extra: string]: unknown;
}

export interface FunctionCallItem {
  id?: string;
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  status?: string;
  [extra: string]: unknown;
}

export type InputItem = { id?: string; type?: string; [extra: string]: unknown };
export type OutputItem = { id?: string; type: string; [extra: string]: unknown };

export interface FunctionTool {
  type: string;
  name?: string;
  description?: string | null;
  parameters?: unknown;
  strict?: boolean | null;
  [extra: string]: unknown;
}

export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: string; name?: string; [extra: string]: unknown };

export interface ResponsesRequest {
  model?: string;
  input?: string | InputItem[];
  instructions?: string | null;
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  text?: {
    format?: { type: string; name?: string; schema?: unknown; description?: string; strict?: boolean | null };
  };
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  metadata?: Record<string, string>;
  parallel_tool_calls?: boolean | null;
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  stream?: boolean | null;
  user?: string;
  [extra: string]: unknown;
}

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: string;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  model: string;
  output: OutputItem[];
  usage?: ResponseUsage | null;
  store?: boolean;
  previous_response_id?: string | null;
  [extra: string]: unknown;
}

/** One server-sent event of a streamed response (`type` is also the SSE event name). */
export type ResponseEvent = { type: string; sequence_number?: number; [extra: string]: unknown };
