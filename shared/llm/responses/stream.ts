import type { ChatChunk } from '../providers/types.ts';
import { finish, functionCallItem, messageItem, newId, toResponseUsage } from './translate.ts';
import type { OutputItem, ResponseEvent, ResponseObject, ResponseUsage } from './types.ts';

interface ChunkDelta {
  content?: string | null;
  refusal?: string | null;
  tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }>;
}

/**
 * Chat Completion chunks → the Responses API's event sequence, as OpenAI sends it:
 * `response.created`, `response.in_progress`, then per output item `output_item.added`,
 * (message) `content_part.added`, `output_text.delta`… `output_text.done`, `content_part.done`,
 * (function call) `function_call_arguments.delta`… `.done`, then `output_item.done`, and last
 * `response.completed` (or `response.incomplete`). Every event has its `sequence_number`.
 * `final()` is the finished Response once the stream has ended (for storing it).
 */
export class ChatToResponseEvents {
  private seq = 0;
  private readonly output: OutputItem[] = [];
  private text: { id: string; index: number; text: string; refusal: boolean } | undefined;
  private call:
    | { id: string; index: number; callId: string; name: string; args: string; chatIndex: number }
    | undefined;
  private finishReason = 'stop';
  private usage: ResponseUsage | null = null;
  private done: ResponseObject | undefined;
  private readonly shell: ResponseObject;

  constructor(shell: ResponseObject) {
    this.shell = shell;
  }

  start(): ResponseEvent[] {
    const response = { ...this.shell, output: [] };
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  push(chunk: ChatChunk): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (chunk.usage) this.usage = toResponseUsage(chunk.usage);
    const choice = (
      chunk.choices as Array<{ delta?: ChunkDelta; finish_reason?: string | null }> | undefined
    )?.[0];
    if (!choice) return events;
    const delta = choice.delta ?? {};
    const piece = delta.content || delta.refusal;
    if (piece) {
      if (this.call) events.push(...this.closeCall());
      if (!this.text) events.push(...this.openText(Boolean(delta.refusal)));
      const text = this.text!;
      text.text += piece;
      events.push(
        text.refusal
          ? this.event('response.refusal.delta', this.partRef(text, { delta: piece }))
          : this.event('response.output_text.delta', this.partRef(text, { delta: piece, logprobs: [] })),
      );
    }
    for (const call of delta.tool_calls ?? []) {
      const chatIndex = call.index ?? 0;
      if (!this.call || (this.call.chatIndex !== chatIndex && (call.id || call.function?.name))) {
        if (this.text) events.push(...this.closeText());
        if (this.call) events.push(...this.closeCall());
        this.call = {
          id: newId('fc'),
          index: this.output.length,
          callId: call.id ?? newId('fc'),
          name: call.function?.name ?? '',
          args: '',
          chatIndex,
        };
        this.output.push(functionCallItem(this.call.id, this.call.callId, this.call.name, '', 'in_progress'));
        events.push(
          this.event('response.output_item.added', {
            output_index: this.call.index,
            item: functionCallItem(this.call.id, this.call.callId, this.call.name, '', 'in_progress'),
          }),
        );
      }
      const args = call.function?.arguments;
      if (args) {
        this.call.args += args;
        events.push(
          this.event('response.function_call_arguments.delta', {
            item_id: this.call.id,
            output_index: this.call.index,
            delta: args,
          }),
        );
      }
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return events;
  }

  /** Closes what is open and ends with `response.completed` (or `.incomplete`). */
  end(): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (this.text) events.push(...this.closeText());
    if (this.call) events.push(...this.closeCall());
    if (this.output.length === 0) {
      // An empty answer is still one (empty) message, as a non-streamed one would be.
      events.push(...this.openText(false), ...this.closeText());
    }
    this.done = finish(this.shell, this.output, this.finishReason, this.usage);
    const type = this.done.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    events.push(this.event(type, { response: this.done }));
    return events;
  }

  /** After a failure mid-stream: `response.failed`, with what had been produced so far. */
  fail(code: string, message: string): ResponseEvent[] {
    this.done = {
      ...this.shell,
      status: 'failed',
      error: { code, message },
      output: this.output,
      ...(this.usage ? { usage: this.usage } : {}),
    };
    return [this.event('response.failed', { response: this.done })];
  }

  final(): ResponseObject | undefined {
    return this.done;
  }

  private event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }

  private partRef(text: { id: string; index: number }, fields: Record<string, unknown>) {
    return { item_id: text.id, output_index: text.index, content_index: 0, ...fields };
  }

  private openText(refusal: boolean): ResponseEvent[] {
    const id = newId('msg');
    this.text = { id, index: this.output.length, text: '', refusal };
    const item = { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    this.output.push(item);
    const part = refusal
      ? { type: 'refusal', refusal: '' }
      : { type: 'output_text', text: '', annotations: [], logprobs: [] };
    return [
      this.event('response.output_item.added', { output_index: this.text.index, item }),
      this.event('response.content_part.added', this.partRef(this.text, { part })),
    ];
  }

  private closeText(): ResponseEvent[] {
    const text = this.text!;
    this.text = undefined;
    const item = messageItem(text.id, text.refusal ? { refusal: text.text } : { text: text.text });
    this.output[text.index] = item;
    return [
      text.refusal
        ? this.event('response.refusal.done', this.partRef(text, { refusal: text.text }))
        : this.event('response.output_text.done', this.partRef(text, { text: text.text, logprobs: [] })),
      this.event('response.content_part.done', this.partRef(text, { part: item.content[0] })),
      this.event('response.output_item.done', { output_index: text.index, item }),
    ];
  }

  private closeCall(): ResponseEvent[] {
    const call = this.call!;
    this.call = undefined;
    const item = functionCallItem(call.id, call.callId, call.name, call.args);
    this.output[call.index] = item;
    return [
      this.event('response.function_call_arguments.done', {
        item_id: call.id,
        output_index: call.index,
        name: call.name,
        arguments: call.args,
      }),
      this.event('response.output_item.done', { output_index: call.index, item }),
    ];
  }
}

/**
 * Events → the finished Response, as a client accumulates them: the last lifecycle event's
 * response. Used for native streams (to store what OpenAI produced) and by the property tests.
 */
export function responseFromEvents(events: Iterable<ResponseEvent>): ResponseObject | undefined {
  let last: ResponseObject | undefined;
  for (const e of events) {
    if (e.type === 'response.completed' || e.type === 'response.incomplete' || e.type === 'response.failed') {
      last = e.response as ResponseObject;
    }
  }
  return last;
}

export function isTerminalEvent(type: string): boolean {
  return type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed';
}
