/**
 * The gateway's stream tap as `bench/stream-stages.ts` runs it under bare workerd: the upstream
 * response primed to its first event and forwarded through `tapChunkStream`, as the chat route
 * does for an OpenAI-type upstream whose caller did not ask for usage (the usage chunk withheld,
 * its usage read). Bundled by esbuild into the stage worker's `tap.js`.
 */
import { openChunkBytes, tapChunkStream } from '../../shared/llm/providers/openai/openai-stream-tap.ts';

export async function tapResponse(
  upstream: Response,
  signal: AbortSignal,
  headers: Record<string, string>,
): Promise<Response> {
  const bytes = await openChunkBytes('bench', upstream, 60_000, signal);
  const stream = tapChunkStream(bytes, {
    wantsUsage: false,
    errorEvent: () => 'event: error\ndata: {"error":{"message":"Upstream stream failed"}}\n\n',
    onEnd: () => undefined,
  });
  return new Response(stream, { headers });
}
