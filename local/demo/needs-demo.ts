/**
 * Whether `npm start` should answer LLM calls from the labelled demo upstream: only when no
 * provider key (OpenAI, Google, Anthropic) and no LLM_BASE_URL is set. With any one key the
 * registry decides: models without a credential are skipped, so each role reaches its model
 * from the provider that has a key.
 */
export function needsDemoUpstream(env: Record<string, string | undefined>): boolean {
  return !env.OPENAI_API_KEY && !env.GOOGLE_API_KEY && !env.ANTHROPIC_API_KEY && !env.LLM_BASE_URL;
}
