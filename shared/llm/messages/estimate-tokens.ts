import type { AnthropicBlock, AnthropicRequest } from '../providers/anthropic/anthropic-wire.ts';
import { systemText } from './messages-to-chat.ts';

/** Anthropic's own figure for a large image (~1.15 megapixels); a document counts the same. */
const IMAGE_TOKENS = 1600;
const CHARS_PER_TOKEN = 4;
const PER_MESSAGE = 3;

/**
 * `count_tokens` for models that are not Anthropic's (which have no such endpoint): an estimate,
 * not a tokenizer. One token per 4 characters of text (system, message text, tool inputs and
 * results, tool definitions as JSON), 1,600 per image or document, 3 per message. Real counts
 * differ by model and language (often by 10-30 %); docs/LLM.md says so.
 */
export function estimateInputTokens(body: Pick<AnthropicRequest, 'system' | 'messages' | 'tools'>): number {
  let chars = systemText(body.system).length;
  let fixed = 0;
  const visit = (blocks: string | AnthropicBlock[] | undefined) => {
    if (blocks === undefined) return;
    if (typeof blocks === 'string') {
      chars += blocks.length;
      return;
    }
    for (const block of blocks) {
      if (block.type === 'text') chars += String(block.text).length;
      else if (block.type === 'image' || block.type === 'document') fixed += IMAGE_TOKENS;
      else if (block.type === 'tool_use')
        chars += String(block.name).length + JSON.stringify(block.input ?? {}).length;
      else if (block.type === 'tool_result') visit(block.content as string | AnthropicBlock[] | undefined);
      else if (block.type === 'thinking') chars += String(block.thinking).length;
    }
  };
  for (const message of body.messages) {
    fixed += PER_MESSAGE;
    visit(message.content);
  }
  if (body.tools?.length) chars += JSON.stringify(body.tools).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + fixed;
}
