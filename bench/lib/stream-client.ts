/**
 * Streaming load: `concurrency` keep-alive connections, each sending the next request as soon as
 * the previous stream ends, recording per request the time to the first body byte (TTFB) and to
 * the last (TTLB). A stream counts as an error unless it is a 200 that ends with `data: [DONE]`
 * (or the spec's `streamEnd`: Anthropic's streams end with a `message_stop` event).
 */
import { Agent, request } from 'node:http';
import { cpuDelta, cpuSnapshot, type RequestSpec, sleep, type WindowOptions } from './loadgen.ts';
import { Samples, type WindowResult } from './stats.ts';

/** The text a complete stream ends with when the spec names none: OpenAI's. */
export const OPENAI_STREAM_END = 'data: [DONE]';

/**
 * Whether a stream's body has held `marker`, fed chunk by chunk. The marker may sit at the start
 * of a long last event (response.completed carries the whole response), so each chunk is searched,
 * with the previous chunk's tail for a marker split across two.
 */
export function endWatch(marker: string): { feed(chunk: Buffer): void; readonly ended: boolean } {
  let tail = '';
  let ended = false;
  return {
    feed(chunk) {
      if (ended) return;
      const text = tail + chunk.toString('latin1');
      if (text.includes(marker)) ended = true;
      else tail = text.slice(-marker.length);
    },
    get ended() {
      return ended;
    },
  };
}

export async function runStreams(spec: RequestSpec, options: WindowOptions): Promise<WindowResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const url = new URL(spec.url);
  const body = Buffer.from(spec.body ?? '');
  const marker = spec.streamEnd ?? OPENAI_STREAM_END;
  const latency = new Samples();
  const ttfb = new Samples();
  const statuses: Record<string, number> = {};
  let measuring = false;
  let running = true;
  let requests = 0;
  let errors = 0;

  const once = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      let first = 0;
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: spec.method,
          headers: { ...spec.headers, 'content-length': body.byteLength },
        },
        (res) => {
          const end = endWatch(marker);
          res.on('data', (chunk: Buffer) => {
            if (!first) first = performance.now();
            end.feed(chunk);
          });
          res.on('end', () => {
            const done = performance.now();
            if (measuring) {
              requests++;
              const status = res.statusCode ?? 0;
              statuses[status] = (statuses[status] ?? 0) + 1;
              if (status === 200 && end.ended) {
                ttfb.push(first - start);
                latency.push(done - start);
              } else {
                errors++;
              }
            }
            resolve();
          });
          res.on('error', () => {
            if (measuring) errors++;
            resolve();
          });
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        if (measuring) errors++;
        resolve();
      });
      req.end(body);
    });

  const loops = Array.from({ length: options.concurrency }, async () => {
    while (running) await once();
  });
  await sleep(options.warmupMs);
  const cpuBefore = cpuSnapshot(options.watch);
  const windowStart = performance.now();
  measuring = true;
  await sleep(options.measureMs);
  measuring = false;
  const seconds = (performance.now() - windowStart) / 1000;
  const cpuMs = cpuDelta(cpuBefore, cpuSnapshot(options.watch));
  running = false;
  await Promise.all(loops);
  agent.destroy();
  return { requests, seconds, errors, statuses, latency, ttfb, cpuMs };
}
