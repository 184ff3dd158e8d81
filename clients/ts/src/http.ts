import { errorFromResponse, MasConnectionError, MasError } from './errors.ts';

export interface MasClientOptions {
  /** Default: `MAS_BASE_URL` where an environment exists, else http://localhost:8001. */
  baseUrl?: string;
  /** Default: `MAS_API_KEY` where an environment exists. */
  apiKey?: string;
  /** Any fetch (Node, Deno, Workers, browsers, or a service binding's). Default: globalThis.fetch. */
  fetch?: (input: Request) => Promise<Response>;
  /** Sent as `x-correlation-id`; a function is asked per call (e.g. from AsyncLocalStorage). */
  correlationId?: string | (() => string | undefined);
  /** Who `audit.logAction` / `gated` record as when the call names no agent; integration writes too. */
  agent?: { id: string; name?: string };
  /** Retries of idempotent calls on network errors and 429/502/503/504. Default 2. */
  maxRetries?: number;
  /** Per attempt. Default 60 s (a long-poll adds its wait). */
  timeoutMs?: number;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Retried when true; default: GET, HEAD and OPTIONS only. */
  idempotent?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface CallResult<T> {
  status: number;
  headers: Headers;
  data: T;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
const MAX_RETRY_DELAY_MS = 10_000;
const VERSION = '0.1.0';

/** An environment variable where the runtime has one (Node, Deno, Bun); never required. */
function envVar(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Full jitter, 200 ms doubling, capped: retrying agents do not move in step. */
const backoff = (attempt: number) => Math.random() * Math.min(MAX_RETRY_DELAY_MS, 200 * 2 ** attempt);

/** The one HTTP path to the gateway: auth, correlation, JSON, typed errors, safe retries. */
export class Transport {
  readonly baseUrl: string;
  readonly options: MasClientOptions;
  private readonly apiKey: string | undefined;
  private readonly doFetch: (input: Request) => Promise<Response>;

  constructor(options: MasClientOptions = {}) {
    this.options = options;
    this.baseUrl = (options.baseUrl ?? envVar('MAS_BASE_URL') ?? 'http://localhost:8001').replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? envVar('MAS_API_KEY');
    this.doFetch = options.fetch ?? ((request) => globalThis.fetch(request));
  }

  async call<T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<CallResult<T>> {
    if (!this.apiKey) {
      throw new MasError('No API key: pass apiKey or set MAS_API_KEY (npm run keys -- create makes one)');
    }
    method = method.toUpperCase();
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.apiKey}`,
      accept: 'application/json',
      'x-mas-client': `mas-client-ts/${VERSION}`,
    };
    const correlation =
      typeof this.options.correlationId === 'function'
        ? this.options.correlationId()
        : this.options.correlationId;
    if (correlation) headers['x-correlation-id'] = correlation;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, options.headers);
    const retryable = options.idempotent ?? IDEMPOTENT.has(method);
    const attempts = 1 + (retryable ? (this.options.maxRetries ?? 2) : 0);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 60_000;

    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= attempts;
      const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
      let response: Response;
      try {
        response = await this.doFetch(
          new Request(url, { method, headers, body, signal: AbortSignal.any(signals) }),
        );
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (last) {
          throw new MasConnectionError(`${method} ${url.pathname}: ${(err as Error).message ?? err}`, {
            cause: err,
          });
        }
        await sleep(backoff(attempt), options.signal);
        continue;
      }
      if (RETRY_STATUSES.has(response.status) && !last) {
        const hint = Number(response.headers.get('retry-after'));
        await response.body?.cancel();
        await sleep(
          Number.isFinite(hint) && hint >= 0 && response.headers.has('retry-after')
            ? Math.min(MAX_RETRY_DELAY_MS, hint * 1000)
            : backoff(attempt),
          options.signal,
        );
        continue;
      }
      const text = await response.text();
      if (response.status >= 400) throw errorFromResponse(response.status, response.headers, text);
      let data: unknown = text;
      if (!text) data = undefined;
      else if (/json/i.test(response.headers.get('content-type') ?? '')) data = JSON.parse(text);
      return { status: response.status, headers: response.headers, data: data as T };
    }
  }
}
