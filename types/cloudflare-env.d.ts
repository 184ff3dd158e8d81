// The combined deployment is the main Worker of wrangler.toml; tests reach it through
// `exports.default` from `cloudflare:workers`.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('../functions/index.ts');
  }
}
