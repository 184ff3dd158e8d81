import * as z from 'zod/mini';
import { lazy } from '../../../http/lazy.ts';

/**
 * Gemini API shapes (`generateContent`, `streamGenerateContent?alt=sse`, `batchEmbedContents`):
 * TypeScript types for what we build, and minimal zod schemas for what we read from upstream
 * bodies (only the fields we use; `looseObject` so a new field never breaks us).
 * Reference: https://ai.google.dev/api/generate-content
 */

/** The API version of the Developer API's REST paths (what `@google/genai` defaults to). */
export const GEMINI_API_VERSION = 'v1beta';

export interface Part {
  text?: string;
  thought?: boolean;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType: string };
  functionCall?: { id?: string; name?: string; args?: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}

export interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

/** The request body's fields besides `contents`, in the shape we build them. */
export interface GenerateContentConfig {
  systemInstruction?: { parts: Part[] };
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  candidateCount?: number;
  seed?: number;
  stopSequences?: string[];
  responseMimeType?: string;
  responseJsonSchema?: unknown;
  tools?: Array<{
    functionDeclarations: Array<{ name: string; description?: string; parametersJsonSchema?: unknown }>;
  }>;
  toolConfig?: {
    functionCallingConfig: { mode: 'NONE' | 'AUTO' | 'ANY'; allowedFunctionNames?: string[] };
  };
}

/** The wire body: sampling options go under `generationConfig`, the rest at the top level. */
export function generateContentBody(contents: Content[], config: GenerateContentConfig) {
  const { systemInstruction, tools, toolConfig, ...generation } = config;
  return {
    contents,
    ...(systemInstruction ? { systemInstruction } : {}),
    ...(Object.keys(generation).length ? { generationConfig: generation } : {}),
    ...(tools ? { tools } : {}),
    ...(toolConfig ? { toolConfig } : {}),
  };
}

// Each upstream schema is built on its first use (`lazy`: call it for the schema), not at module
// load: a new isolate of chat, messages or embed builds none of them until a Gemini model is
// called. Not `z.lazy`: each of those is a zod/mini instance made at load (~2 KiB of young
// generation in Node), where `lazy` is one closure.
export const generateContentResponseSchema = lazy(() => {
  const partSchema = z.looseObject({
    text: z.nullish(z.string()),
    thought: z.nullish(z.boolean()),
    functionCall: z.nullish(
      z.looseObject({
        id: z.nullish(z.string()),
        name: z.nullish(z.string()),
        args: z.nullish(z.record(z.string(), z.unknown())),
      }),
    ),
  });
  return z.looseObject({
    responseId: z.nullish(z.string()),
    candidates: z.nullish(
      z.array(
        z.looseObject({
          content: z.nullish(z.looseObject({ parts: z.nullish(z.array(partSchema)) })),
          finishReason: z.nullish(z.string()),
        }),
      ),
    ),
    promptFeedback: z.nullish(z.looseObject({ blockReason: z.nullish(z.string()) })),
    usageMetadata: z.nullish(
      z.looseObject({
        promptTokenCount: z.nullish(z.number()),
        candidatesTokenCount: z.nullish(z.number()),
        thoughtsTokenCount: z.nullish(z.number()),
        totalTokenCount: z.nullish(z.number()),
      }),
    ),
  });
});
export type GenerateContentResponse = z.infer<ReturnType<typeof generateContentResponseSchema>>;

export const batchEmbedResponseSchema = lazy(() =>
  z.looseObject({
    embeddings: z.nullish(z.array(z.looseObject({ values: z.nullish(z.array(z.number())) }))),
  }),
);

/** Google's error body: `{ error: { code, message, status, details: [...] } }`. */
export const geminiErrorSchema = lazy(() =>
  z.looseObject({
    error: z.looseObject({
      message: z.nullish(z.string()),
      status: z.nullish(z.string()),
      details: z.nullish(
        z.array(z.looseObject({ '@type': z.nullish(z.string()), retryDelay: z.nullish(z.string()) })),
      ),
    }),
  }),
);
