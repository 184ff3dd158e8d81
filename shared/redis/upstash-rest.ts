/**
 * A small client of Upstash's Redis REST protocol (`POST <url>` with one command as a JSON array,
 * `POST <url>/pipeline` with several; bearer token; `{ result }` or `{ error }` back), for the
 * commands the functions use. It keeps `@upstash/redis`'s semantics, which callers and
 * `@upstash/ratelimit` rely on: arguments that are not strings or numbers are sent as JSON,
 * results are JSON-parsed where they parse (numbers only when that loses nothing), Redis error
 * replies throw, a network failure is retried `retries` times, and every request runs under a
 * deadline of `timeoutMs` (and the signal of `signal()`), cleared the moment it settles. The SDK itself is ~90 KiB of command classes in every bundle.
 * Protocol: https://upstash.com/docs/redis/features/restapi
 */

import { withDeadline } from '../resilience/deadline.ts';

export class UpstashError extends Error {
  override name = 'UpstashError';
}

export interface UpstashOptions {
  url: string;
  token: string;
  /** Retries after a network failure (not after a Redis error reply, nor after the signal). */
  retry?: { retries: number; backoff: (attempt: number) => number } | false;
  /** The longest wait for one REST call (a command, or a pipeline), body included. */
  timeoutMs?: number;
  /** A signal per request, e.g. the caller's: a command stops when it aborts. */
  signal?: () => AbortSignal;
}

type Arg = unknown;
type Reply = { result?: unknown; error?: string };

/** `@upstash/redis`'s argument serializer: JSON for anything but strings, numbers and booleans. */
const serialize = (arg: Arg): string | number | boolean =>
  typeof arg === 'string' || typeof arg === 'number' || typeof arg === 'boolean' ? arg : JSON.stringify(arg);

/** `@upstash/redis`'s result parser: JSON where it parses, keeping numbers that would lose digits. */
export function parseResult(value: unknown): unknown {
  try {
    return parseRecursive(value);
  } catch {
    return value;
  }
}
function parseRecursive(value: unknown): unknown {
  const parsed = Array.isArray(value)
    ? value.map((v) => {
        try {
          return parseRecursive(v);
        } catch {
          return v;
        }
      })
    : JSON.parse(value as string);
  if (typeof parsed === 'number' && parsed.toString() !== value) return value;
  return parsed;
}

export class UpstashRedis {
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly retries: number;
  private readonly backoff: (attempt: number) => number;
  private readonly signal: (() => AbortSignal) | undefined;
  private readonly timeoutMs: number;
  /** Read-your-writes across Upstash replicas: the last reply's sync token goes with the next. */
  private syncToken = '';

  constructor(options: UpstashOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json', authorization: `Bearer ${options.token}` };
    this.retries = options.retry === false ? 0 : (options.retry?.retries ?? 5);
    this.backoff = options.retry === false ? () => 0 : (options.retry?.backoff ?? ((n) => Math.exp(n) * 50));
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * One REST call: `path` '' for a command, '/pipeline' for several. On Node its deadline is disposed
   * when the call settles: per command, an `AbortSignal.timeout` would keep a timer (and the request
   * it references) alive for the whole `timeoutMs`, thousands of them under load. On workerd it is
   * the request's own timer, which ends with the request (withDeadline's `callLimit`).
   */
  private request(path: string, body: unknown[]): Promise<Reply | Reply[]> {
    const parent = this.signal?.();
    if (!parent && !Number.isFinite(this.timeoutMs)) return this.send(path, body, undefined);
    return withDeadline(this.timeoutMs, (signal) => this.send(path, body, signal), parent);
  }

  private async send(
    path: string,
    body: unknown[],
    signal: AbortSignal | undefined,
  ): Promise<Reply | Reply[]> {
    const init: RequestInit = {
      method: 'POST',
      headers: { ...this.headers, 'upstash-sync-token': this.syncToken },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    };
    let res: Response | undefined;
    for (let attempt = 0; !res; attempt++) {
      try {
        res = await fetch(`${this.url}${path}`, init);
      } catch (err) {
        if (signal?.aborted || attempt >= this.retries) throw err;
        await new Promise((r) => setTimeout(r, this.backoff(attempt)));
      }
    }
    const text = await res.text();
    let json: Reply | Reply[];
    try {
      json = JSON.parse(text) as Reply | Reply[];
    } catch (err) {
      throw new UpstashError(`Unable to parse response body: ${text.slice(0, 200)}`, { cause: err });
    }
    // The command's arguments stay out of the message: they may hold cached answers or keys.
    if (!res.ok)
      throw new UpstashError(`${(json as Reply).error ?? res.status}, command was: ${commandName(body)}`);
    this.syncToken = res.headers.get('upstash-sync-token') ?? '';
    return json;
  }

  /** Any command, as `@upstash/redis`'s `exec`: `['incrby', key, 1]`. */
  async command<T = unknown>(args: Arg[], deserialize: (v: unknown) => unknown = parseResult): Promise<T> {
    const { result, error } = (await this.request('', args.map(serialize))) as Reply;
    if (error) throw new UpstashError(error);
    if (result === undefined) throw new TypeError('Request did not return a result');
    return deserialize(result) as T;
  }

  get<T = unknown>(key: string): Promise<T | null> {
    return this.command(['get', key]);
  }
  /** `SET key value [NX] [EX s | PX ms]`: 'OK', or null when NX found the key. */
  set(key: string, value: Arg, opts: { nx?: boolean; ex?: number; px?: number } = {}): Promise<'OK' | null> {
    const args: Arg[] = ['set', key, value];
    if (opts.nx) args.push('nx');
    if (opts.ex !== undefined) args.push('ex', opts.ex);
    else if (opts.px !== undefined) args.push('px', opts.px);
    return this.command(args);
  }
  del(...keys: string[]): Promise<number> {
    return this.command(['del', ...keys]);
  }
  mget<T extends unknown[] = unknown[]>(...keys: string[]): Promise<T> {
    return this.command(['mget', ...keys]);
  }
  keys(pattern: string): Promise<string[]> {
    return this.command(['keys', pattern]);
  }
  scan(cursor: string | number, opts: { match?: string; count?: number } = {}): Promise<[string, string[]]> {
    const args: Arg[] = ['scan', cursor];
    if (opts.match) args.push('match', opts.match);
    if (typeof opts.count === 'number') args.push('count', opts.count);
    return this.command(args, (r) => {
      const [next, ...rest] = r as [string, string[]];
      return [next, ...(parseResult(rest) as [string[]])];
    });
  }
  ping(): Promise<string> {
    return this.command(['ping']);
  }
  eval<T = unknown>(script: string, keys: string[], args: Arg[]): Promise<T> {
    return this.command(['eval', script, keys.length, ...keys, ...args]);
  }
  evalsha<T = unknown>(sha: string, keys: string[], args: Arg[]): Promise<T> {
    return this.command(['evalsha', sha, keys.length, ...keys, ...args]);
  }

  /** A Lua script run by EVALSHA, loaded with EVAL when Redis does not know it yet. */
  createScript<T = unknown>(script: string): { exec(keys: string[], args: Arg[]): Promise<T> } {
    const sha = sha1Hex(script);
    return {
      exec: async (keys, args) => {
        try {
          return await this.evalsha<T>(await sha, keys, args);
        } catch (err) {
          if (err instanceof Error && /noscript/i.test(err.message)) return this.eval<T>(script, keys, args);
          throw err;
        }
      },
    };
  }

  pipeline(): UpstashPipeline {
    return new UpstashPipeline((commands) => this.request('/pipeline', commands) as Promise<Reply[]>);
  }
}

/** Commands sent together in one `/pipeline` request (not atomic); `exec` throws on the first error. */
export class UpstashPipeline {
  private readonly commands: Array<Array<string | number | boolean>> = [];
  private readonly send: (commands: unknown[]) => Promise<Reply[]>;
  constructor(send: (commands: unknown[]) => Promise<Reply[]>) {
    this.send = send;
  }
  private push(args: Arg[]): this {
    this.commands.push(args.map(serialize));
    return this;
  }
  incrby(key: string, by: number): this {
    return this.push(['incrby', key, by]);
  }
  pexpire(key: string, ms: number): this {
    return this.push(['pexpire', key, ms]);
  }
  del(...keys: string[]): this {
    return this.push(['del', ...keys]);
  }
  mget(...keys: string[]): this {
    return this.push(['mget', ...keys]);
  }
  async exec<T extends unknown[] = unknown[]>(): Promise<T> {
    if (!this.commands.length) throw new Error('Pipeline is empty');
    const replies = await this.send(this.commands);
    return replies.map(({ result, error }, i) => {
      if (error) throw new UpstashError(`Command ${i + 1} [ ${this.commands[i]![0]} ] failed: ${error}`);
      return parseResult(result);
    }) as T;
  }
}

function commandName(body: unknown[]): string {
  const first = body[0];
  return Array.isArray(first) ? `pipeline of ${body.length}` : String(first);
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
