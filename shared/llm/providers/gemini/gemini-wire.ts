import * as z from 'zod';

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

const partSchema = z.looseObject({
  text: z.string().nullish(),
  thought: z.boolean().nullish(),
  functionCall: z
    .looseObject({
      id: z.string().nullish(),
      name: z.string().nullish(),
      args: z.record(z.string(), z.unknown()).nullish(),
    })
    .nullish(),
});

export const generateContentResponseSchema = z.looseObject({
  responseId: z.string().nullish(),
  candidates: z
    .array(
      z.looseObject({
        content: z.looseObject({ parts: z.array(partSchema).nullish() }).nullish(),
        finishReason: z.string().nullish(),
      }),
    )
    .nullish(),
  promptFeedback: z.looseObject({ blockReason: z.string().nullish() }).nullish(),
  usageMetadata: z
    .looseObject({
      promptTokenCount: z.number().nullish(),
      candidatesTokenCount: z.number().nullish(),
      thoughtsTokenCount: z.number().nullish(),
      totalTokenCount: z.number().nullish(),
    })
    .nullish(),
});
export type GenerateContentResponse = z.infer<typeof generateContentResponseSchema>;

export const batchEmbedResponseSchema = z.looseObject({
  embeddings: z.array(z.looseObject({ values: z.array(z.number()).nullish() })).nullish(),
});

/** Google's error body: `{ error: { code, message, status, details: [...] } }`. */
export const geminiErrorSchema = z.looseObject({
  error: z.looseObject({
    message: z.string().nullish(),
    status: z.string().nullish(),
    details: z
      .array(z.looseObject({ '@type': z.string().nullish(), retryDelay: z.string().nullish() }))
      .nullish(),
  }),
});
