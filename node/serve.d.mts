// Types of node/serve.mjs (plain JavaScript, so Node runs it without its TypeScript stripper).
export interface Handler {
  // biome-ignore lint/suspicious/noExplicitAny: a Workers handler's env type is its own.
  fetch(request: Request, env: any, ctx: ExecutionContext): Response | Promise<Response>;
}
export interface NodeServer {
  url: string;
  close(): Promise<void>;
}
export function serveNode(
  handler: Handler,
  options: { env: object; port?: number; hostname?: string; fetch?: 'lean' | 'native' },
): Promise<NodeServer>;
export function loadHandler(path: string): Promise<Handler>;
export const COMPILE_CACHE_DIR: string;
export function useCompileCache(): void;
export function saveCompileCache(): void;
