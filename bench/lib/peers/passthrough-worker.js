// The workerd floor: a bare passthrough Worker, forwarding the two LLM routes to the fake upstream.
export default {
  async fetch(req, env) {
    const { pathname } = new URL(req.url);
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/embeddings'].includes(pathname))
      return new Response('not found', { status: 404 });
    const headers = {
      'content-type': 'application/json',
      authorization: req.headers.get('authorization') ?? '',
    };
    return fetch(env.UPSTREAM + pathname, { method: 'POST', headers, body: req.body });
  },
};
