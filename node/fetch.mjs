/**
 * A leaner `fetch` for the Node entry (node/serve.mjs installs it as the global one): the plain
 * calls the gateway makes (a string or URL, `method`, `headers`, a string or byte `body`, a
 * `signal`: every upstream LLM call, the rate limiter's Upstash REST commands, metric pushes) go
 * over node:http/node:https with a keep-alive agent and come back as a standard `Response` whose
 * body comes from the socket (node/lean-response.mjs: its chunks as they are for a whole read,
 * a stream made only when something asks for `body`); anything else (a Request object, `redirect`, `keepalive`, a
 * stream or form body, a non-http URL, an `accept-encoding` of the caller's, a redirect answer)
 * is Node's own fetch, unchanged.
 *
 * Why: undici's fetch is most of ours' CPU per chat request on Node (26 % of the main thread in
 * `npm run bench:profile`, beside 6 % for the web streams it makes): per call a spec Request,
 * a clone of it whose body is teed, the fetch controller and timing objects, and a
 * FinalizationRegistry entry per Response (and per signal), which scavenges keep alive, so each
 * call's objects are promoted to old space (the Node floor, one fetch per request, promotes
 * ~12 KiB a request). The same POST and read cost the client 983 µs on undici's fetch against
 * 332 µs on node:http in one process (2026-12-01, load average 10.9, 8 at a time). The deploy
 * bundle on Node, this fetch against Node's (`npm run bench:node-ab -- --a-env
 * MAS_NODE_FETCH=native`, two runs each, load average 10-15 on 2 cores): CPU per request 0.59-0.71×
 * for chat and 0.44-0.93× for embeddings (c=1, 8, 32), promoted to old space 26-29 → 7-10 KiB a
 * chat request, RSS after the cells 164-172 → 121 MiB (chat) and 163-177 → 154-155 (embeddings).
 *
 * What a caller sees is a fetch answer: status, statusText, headers as the upstream sent them
 * (a gzip/deflate/br body decoded, the headers left as sent, as fetch does), a body read as it
 * arrives, an abort (before or during the body) rejecting or erroring with the signal's reason,
 * and a connection that fails before an answer rejecting with `TypeError('fetch failed')` whose
 * `cause` is the socket's error. Sent as fetch sends them: `accept: *\/*`, `user-agent: node`,
 * `accept-encoding: gzip, deflate, br` unless given, `content-length` of the body and
 * `content-type: text/plain;charset=UTF-8` for a string body without one. An answer no
 * `Response` can carry (a status outside 200-599) rejects as `TypeError('fetch failed')`. A
 * redirect is followed as fetch follows it (followRedirect), by Node's fetch from the Location on.
 * Not done: `response.url` is '' (nothing of ours reads it), and `redirected` is false when the
 * first redirect's target answers.
 */
import http from 'node:http';
import { urlToHttpOptions } from 'node:url';
import { LeanResponse, SocketBody } from './lean-response.mjs';

/** Node's own, kept before anything (@hono/node-server swaps Response) replaces them. */
const nativeFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;
const NativeHeaders = globalThis.Headers;

/**
 * node:https (TLS) and node:zlib are loaded on the first call that needs them, not at start:
 * the entry's start-up is measured against Portkey's, and the bench's upstream is plain HTTP.
 */
let https;
let zlib;
const transports = {
  'http:': () => ({ module: http, agent: httpAgent }),
  'https:': () => {
    https ??= process.getBuiltinModule('node:https');
    httpsAgent ??= new https.Agent(AGENT_OPTIONS);
    return { module: https, agent: httpsAgent };
  },
};
/**
 * Keep-alive, with an idle connection let go after 4 s, or sooner when the server's `Keep-Alive:
 * timeout=` hint says (less 1 s): undici's defaults, and Node's global agent's. Without `timeout`
 * node:http's agent ignores the hint and keeps an idle socket for ever, so a call after a quiet
 * spell was written into a connection the server was closing (ECONNRESET) or one a NAT or load
 * balancer had silently dropped (no answer until the caller's deadline). It only ever closes a
 * pooled socket: a request waiting on its answer is not timed out by it.
 */
const AGENT_OPTIONS = { keepAlive: true, timeout: 4000 };
const httpAgent = new http.Agent(AGENT_OPTIONS);
let httpsAgent;
/** The init members this path takes; any other one makes the call Node's fetch. */
const PLAIN_INIT = new Set(['method', 'headers', 'body', 'signal']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Lenient about a body cut at a flush point, as undici's fetch is. */
const zlibOptions = () => ({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH });
const DECODERS = {
  gzip: () => zlib.createGunzip(zlibOptions()),
  'x-gzip': () => zlib.createGunzip(zlibOptions()),
  deflate: () => zlib.createInflate(zlibOptions()),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * `fetch(input, init)`: the plain call over node:http(s), anything else to Node's fetch.
 * @param {string | URL | Request} input
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export function leanFetch(input, init) {
  const call = plainCall(input, init);
  if (call === undefined) return nativeFetch(input, init);
  return send(call, input, init);
}

/** Makes `leanFetch` the global fetch (node/serve.mjs); returns what puts Node's back. */
export function installLeanFetch() {
  if (globalThis.fetch === leanFetch) return () => undefined;
  const previous = globalThis.fetch;
  globalThis.fetch = leanFetch;
  return () => {
    if (globalThis.fetch === leanFetch) globalThis.fetch = previous;
  };
}

/** The call as node:http takes it, or undefined when it is not one this path makes. */
function plainCall(input, init) {
  let href;
  if (typeof input === 'string') href = input;
  else if (input instanceof URL) href = input.href;
  else return undefined;
  if (init !== undefined && init !== null) {
    if (typeof init !== 'object') return undefined;
    for (const key in init) if (!PLAIN_INIT.has(key)) return undefined;
  }
  const target = targetOf(href);
  if (target === undefined) return undefined;
  const method = init?.method === undefined ? 'GET' : String(init.method).toUpperCase();
  if (method === 'CONNECT' || method === 'TRACE' || method === 'TRACK') return undefined;
  let body = bodyOf(init?.body);
  if (body === undefined) return undefined;
  if (body !== null && (method === 'GET' || method === 'HEAD')) return undefined;
  const headers = headerRecord(init?.headers);
  if (headers === undefined || 'accept-encoding' in headers) return undefined;
  headers.accept ??= '*/*';
  headers['user-agent'] ??= 'node';
  headers['accept-encoding'] = 'gzip, deflate, br';
  // fetch's type for a string body (a byte body has none).
  if (typeof body === 'string') headers['content-type'] ??= 'text/plain;charset=UTF-8';
  if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['content-length'] = '0';
  // node:http writes a string body and the head as one UTF-8 string: a Latin-1 header value (which
  // fetch sends byte for byte) would go out as UTF-8. With one, the body goes as bytes.
  if (typeof body === 'string' && latin1Head(headers)) body = Buffer.from(body, 'utf8');
  return { target, method, headers, body, signal: init?.signal ?? undefined };
}

/**
 * What a URL string parses to, for node:http (`options`) and for a redirect (`url`), or undefined
 * for one this path does not call (not http(s), credentials in it, not a URL). Kept per string:
 * the gateway calls the same few URLs (its upstreams' endpoints, the Upstash REST URL), so each
 * is parsed once, not per call (a URL parse and node:http's conversion of it were ~1 % of the
 * main thread per chat request, `npm run bench:profile`). Emptied when full, so a caller
 * building a URL per call (a query string each time) costs a parse as before, and no more memory.
 */
const targets = new Map();
const MAX_TARGETS = 256;
function targetOf(href) {
  const known = targets.get(href);
  if (known !== undefined) return known.options === null ? undefined : known;
  let url;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  const plain = (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
  const target = { url, options: plain ? urlToHttpOptions(url) : null };
  if (targets.size >= MAX_TARGETS) targets.clear();
  targets.set(href, target);
  return plain ? target : undefined;
}

/**
 * A string body as it is (node:http writes it with the head in one write; a Buffer goes as a
 * second chunk of a writev), bytes as a Buffer over the same memory; null for none; undefined for
 * a body this path does not send.
 */
function bodyOf(body) {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

/** Whether a header value has a character past printable ASCII (node:http refuses all but Latin-1). */
function latin1Head(headers) {
  for (const name in headers) if (/[^\t\x20-\x7e]/.test(headers[name])) return true;
  return false;
}

/** Headers init as a lower-cased record (repeated names joined as fetch joins them). */
function headerRecord(init) {
  /** @type {Record<string, string>} */
  const out = Object.create(null);
  if (init === undefined || init === null) return out;
  const add = (name, value) => {
    const key = String(name).toLowerCase();
    const v = String(value).trim();
    out[key] = key in out ? `${out[key]}, ${v}` : v;
  };
  if (init instanceof NativeHeaders || Array.isArray(init)) {
    // Set-Cookie on a request is not a thing this path needs to get right: leave it to fetch.
    for (const [name, value] of init) {
      if (String(name).toLowerCase() === 'set-cookie') return undefined;
      add(name, value);
    }
    return out;
  }
  if (typeof init !== 'object') return undefined;
  const proto = Object.getPrototypeOf(init);
  if (proto !== Object.prototype && proto !== null) return undefined;
  for (const name of Object.keys(init)) add(name, init[name]);
  return out;
}

/** Request headers that describe a body, dropped with it when a redirect turns the call into a GET. */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];
/** Dropped on a redirect to another origin, as undici's fetch drops them (the caller's credentials). */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'host'];

/**
 * The redirect step of fetch's "follow" mode (WHATWG Fetch, HTTP-redirect fetch), then Node's
 * fetch from the Location on: a 303, or a 301/302 of a POST, becomes a GET without its body; a
 * 307/308 sends the same method and body again; a redirect to another origin goes without the
 * caller's Authorization (Node's fetch does the same for the redirects after this one).
 */
function followRedirect(status, location, { target, method, headers, body, signal }, input, init) {
  const { url } = target;
  let next;
  try {
    next = new URL(location, url);
  } catch (err) {
    return Promise.reject(fetchFailed(err));
  }
  // Not http(s): Node's fetch with the first call, which fails it the way fetch does.
  if (next.protocol !== 'http:' && next.protocol !== 'https:') return nativeFetch(input, init);
  const out = { ...headers };
  delete out['accept-encoding']; // ours, not the caller's: Node's fetch sets its own
  let nextMethod = method;
  let nextBody = body;
  if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
    nextMethod = 'GET';
    nextBody = null;
    for (const name of BODY_HEADERS) delete out[name];
  } else {
    delete out['content-length']; // Node's fetch works it out from the body
  }
  if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) delete out[name];
  return nativeFetch(next, { method: nextMethod, headers: out, body: nextBody, signal });
}

function fetchFailed(cause) {
  return new TypeError('fetch failed', { cause });
}

/** What undici's fetch errors a body with when its connection breaks mid-way. */
function terminated(cause) {
  return new TypeError('terminated', { cause });
}

function send({ target, method, headers, body, signal }, input, init) {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const transport = transports[target.options.protocol]();
    let req;
    /** Set once an answer is handed out: from then on an abort errors its body instead. */
    let sink;
    let settled = false;
    const fail = (err) => {
      if (sink) sink.fail(err);
      else if (!settled) {
        settled = true;
        reject(err);
      }
    };
    const onAbort = () => {
      req?.destroy();
      fail(signal.reason);
      done();
    };
    const done = () => signal?.removeEventListener('abort', onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const options = {
        ...target.options,
        method,
        headers,
        agent: transport.agent,
      };
      req = transport.module.request(options, (res) => {
        try {
          answer(res);
        } catch (err) {
          // An answer no Response can carry (a status outside 200-599, which node:http takes and
          // the Response constructor refuses): thrown here it was uncaught (the process's end) and
          // the call never settled. It fails as a connection that gave no answer.
          sink = undefined;
          req.destroy();
          done();
          fail(fetchFailed(err));
        }
      });
    } catch (err) {
      done();
      reject(err instanceof TypeError ? err : fetchFailed(err));
      return;
    }
    function answer(res) {
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status) && res.headers.location !== undefined) {
        // Followed from here on by Node's fetch, from the Location: not the first URL again, which
        // would make the first origin run the call (a POST to an LLM) twice.
        res.resume();
        done();
        settled = true;
        resolve(
          followRedirect(
            status,
            res.headers.location,
            { target, method, headers, body, signal },
            input,
            init,
          ),
        );
        return;
      }
      const nullBody = NULL_BODY.has(status) || method === 'HEAD';
      const responseInit = { status, statusText: res.statusMessage ?? '', headers: pairs(res.rawHeaders) };
      if (nullBody) {
        res.resume();
        res.once('end', done);
        settled = true;
        resolve(new NativeResponse(null, responseInit));
        return;
      }
      const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
      const decoder = Object.hasOwn(DECODERS, encoding) ? DECODERS[encoding] : undefined;
      if (decoder) zlib ??= process.getBuiltinModule('node:zlib');
      const source = decoder ? res.pipe(decoder()) : res;
      if (decoder) res.once('error', (err) => source.destroy(err));
      const answerBody = new SocketBody(source, done, () => req.destroy());
      // Thrown here (a status no Response takes) before the body is wired: the call rejects.
      const response = new LeanResponse(answerBody, responseInit);
      sink = answerBody;
      answerBody.start();
      source.once('error', (err) => {
        // A body that does not decode: the socket still holds the rest of it, so it is closed
        // (left alone, res was unpiped and paused, and kept it until the server gave up on it).
        req.destroy();
        done();
        fail(signal?.aborted ? signal.reason : terminated(err));
      });
      res.once('close', () => {
        if (res.complete) return;
        done();
        fail(signal?.aborted ? signal.reason : terminated(new Error('other side closed')));
      });
      settled = true;
      resolve(response);
    }
    req.once('error', (err) => {
      done();
      fail(signal?.aborted ? signal.reason : sink ? terminated(err) : fetchFailed(err));
    });
    req.end(body ?? undefined);
  });
}

/** node:http's raw header list as name/value pairs, as the upstream sent them. */
function pairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}
