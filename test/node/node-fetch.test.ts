import { execFileSync } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pinnedNode } from '../../bench/lib/children.ts';
import { installLeanFetch, leanFetch } from '../../node/fetch.mjs';
import { serveNode } from '../../node/serve.mjs';

// node/fetch.mjs, the Node entry's fetch: plain calls over node:http answer as fetch answers
// (status, headers, a body that streams, aborts, failures), the rest goes to Node's fetch.

let server: Server;
let origin: string;
/** A second origin (another port), for a redirect that leaves the first one. */
let other: Server;
let otherOrigin: string;
let connections = 0;
let requests = 0;
/** Lets a test hold a handler until it says so. */
const gates = new Map<string, () => void>();
const gate = (name: string) => new Promise<void>((open) => gates.set(name, open));
const open = (name: string) => {
  gates.get(name)?.();
  gates.delete(name);
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  requests++;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString();
    const path = new URL(req.url ?? '/', origin).pathname;
    if (path === '/echo') {
      res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-one': 'a', 'x-Two': 'b' });
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
    } else if (path === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await gate('sse');
      res.end('data: two\n\n');
    } else if (path === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gzipSync('hello, compressed'));
    } else if (path === '/redirect') {
      res.writeHead(307, { location: '/echo' });
      res.end();
    } else if (path === '/see-other') {
      res.writeHead(303, { location: '/echo?from=303' });
      res.end();
    } else if (path === '/moved-away') {
      res.writeHead(302, { location: `${otherOrigin}/echo` });
      res.end();
    } else if (path === '/big') {
      // Past the 64 KiB read off the socket with nobody reading.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(200_000));
    } else if (path === '/empty') {
      res.writeHead(204, { 'x-empty': 'yes' });
      res.end();
    } else if (path === '/hang') {
      await gate('hang');
      res.end();
    } else if (path === '/part') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
      await gate('part');
      res.end();
    } else if (path === '/cut') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('ten bytes!', () => req.socket.destroy());
    } else if (path === '/status-600') {
      res.writeHead(600, 'Beyond');
      res.end('odd');
    } else if (path === '/bad-gzip') {
      // Not gzip, and more of it promised than sent: the socket stays open, waiting for the rest.
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': '100000' });
      res.write('this is not gzip at all');
      req.socket.once('close', () => open('bad-gzip-closed'));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

beforeAll(async () => {
  server = createServer(handle);
  server.on('connection', () => connections++);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  other = createServer(handle);
  await new Promise<void>((done) => other.listen(0, '127.0.0.1', done));
  otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const release of gates.values()) release();
  server.closeAllConnections();
  other.closeAllConnections();
  await new Promise((done) => server.close(done));
  await new Promise((done) => other.close(done));
});

describe('leanFetch: plain calls over node:http', () => {
  it('sends method, headers and body as fetch does and answers with status, text and headers', async () => {
    const res = await leanFetch(`${origin}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer k' },
      body: '{"hi":"there"}',
    });
    expect(res).toBeInstanceOf(Response);
    expect([res.status, res.statusText, res.ok]).toEqual([201, 'Made', true]);
    expect(res.headers.get('x-one')).toBe('a');
    expect(res.headers.get('x-two')).toBe('b');
    const seen = (await res.json()) as { method: string; headers: Record<string, string>; body: string };
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe('{"hi":"there"}');
    expect(seen.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer k',
      'content-length': '14',
      accept: '*/*',
      'user-agent': 'node',
      'accept-encoding': 'gzip, deflate, br',
    });
    // Node's fetch sends this one; the lean path does not: it says which path answered.
    expect(seen.headers['sec-fetch-mode']).toBeUndefined();
  });

  it('takes a Headers object, a URL and bytes', async () => {
    const res = await leanFetch(new URL('/echo', origin), {
      method: 'PUT',
      headers: new Headers({ 'x-h': '1' }),
      body: new TextEncoder().encode('bytes'),
    });
    const seen = (await res.json()) as { method: string; headers: Record<string, string>; body: string };
    expect([seen.method, seen.headers['x-h'], seen.body]).toEqual(['PUT', '1', 'bytes']);
  });

  it('streams a body as it arrives', async () => {
    const res = await leanFetch(`${origin}/sse`, { method: 'POST', body: '{}' });
    const reader = res.body!.getReader();
    const first = await reader.read();
    // The second event is not written yet: the first was handed over on its own.
    expect(new TextDecoder().decode(first.value)).toBe('data: one\n\n');
    open('sse');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe('data: two\n\n');
  });

  it('decodes a gzip body and keeps the headers as sent', async () => {
    const res = await leanFetch(`${origin}/gzip`);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(await res.text()).toBe('hello, compressed');
  });

  it('answers a 204 with a null body', async () => {
    const res = await leanFetch(`${origin}/empty`, { method: 'DELETE' });
    expect([res.status, res.body, res.headers.get('x-empty')]).toEqual([204, null, 'yes']);
  });

  it('follows a 307 from its Location with the same method and body, the first URL asked once', async () => {
    const before = requests;
    const res = await leanFetch(`${origin}/redirect`, { method: 'POST', body: 'again' });
    expect(res.status).toBe(201);
    const seen = (await res.json()) as { method: string; body: string; headers: Record<string, string> };
    expect([seen.method, seen.body, seen.headers['content-length']]).toEqual(['POST', 'again', '5']);
    expect(seen.headers['sec-fetch-mode']).toBe('cors');
    // Ours to /redirect, then Node's fetch to /echo: a POST to an LLM runs once, not twice.
    expect(requests - before).toBe(2);
  });

  it('follows a 303 of a POST as a GET without the body or its headers', async () => {
    const before = requests;
    const res = await leanFetch(`${origin}/see-other`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-keep': 'yes' },
      body: '{"a":1}',
    });
    const seen = (await res.json()) as { method: string; body: string; headers: Record<string, string> };
    expect([seen.method, seen.body, seen.headers['content-type'], seen.headers['x-keep']]).toEqual([
      'GET',
      '',
      undefined,
      'yes',
    ]);
    expect(requests - before).toBe(2);
  });

  it('a redirect to another origin goes there without the Authorization header', async () => {
    const res = await leanFetch(`${origin}/moved-away`, {
      headers: { authorization: 'Bearer sk-secret', 'x-keep': 'yes' },
    });
    const seen = (await res.json()) as { headers: Record<string, string> };
    expect([seen.headers.authorization, seen.headers['x-keep']]).toEqual([undefined, 'yes']);
    expect(seen.headers.host).toBe(new URL(otherOrigin).host);
  });

  it('leaves every other call to Node fetch', async () => {
    for (const init of [
      { redirect: 'manual' as const },
      { keepalive: false },
      { body: new Blob(['b']), method: 'POST' },
    ]) {
      const res = await leanFetch(`${origin}/echo`, init);
      const seen = (await res.json()) as { headers: Record<string, string> };
      expect(seen.headers['sec-fetch-mode']).toBe('cors');
    }
    const viaRequest = await leanFetch(new Request(`${origin}/echo`));
    expect(((await viaRequest.json()) as { headers: Record<string, string> }).headers['sec-fetch-mode']).toBe(
      'cors',
    );
  });

  it('rejects with the signal reason when aborted before the answer, and lets go of the signal', async () => {
    const controller = new AbortController();
    const pending = leanFetch(`${origin}/hang`, { method: 'POST', body: '{}', signal: controller.signal });
    // The server has the request (and holds it): the call is waiting for its answer.
    await vi.waitFor(() => expect(gates.has('hang')).toBe(true));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('caller gone');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    open('hang');
  });

  it('errors the body with the signal reason when aborted while it is read', async () => {
    const controller = new AbortController();
    const res = await leanFetch(`${origin}/part`, { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first part');
    const reason = new DOMException('timed out', 'TimeoutError');
    controller.abort(reason);
    await expect(reader.read()).rejects.toBe(reason);
    open('part');
  });

  it('rejects an already aborted signal without a request', async () => {
    const before = requests;
    await expect(leanFetch(`${origin}/echo`, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(requests).toBe(before);
  });

  it('does not keep listening on the signal once the body is read', async () => {
    const controller = new AbortController();
    const res = await leanFetch(`${origin}/echo`, { method: 'POST', body: 'x', signal: controller.signal });
    await res.text();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('fails as fetch fails: a refused connection and a body cut short', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const refused = await leanFetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as TypeError).message).toBe('fetch failed');
    expect(((refused as TypeError).cause as { code: string }).code).toBe('ECONNREFUSED');

    const cut = await leanFetch(`${origin}/cut`);
    const error = await cut.text().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('terminated');
  });

  it('rejects an answer no Response can carry (status 600) instead of throwing where nothing catches it', async () => {
    const failed = await leanFetch(`${origin}/status-600`).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(TypeError);
    expect((failed as TypeError).message).toBe('fetch failed');
    expect((failed as TypeError).cause).toBeInstanceOf(RangeError);
  });

  it('closes the connection of a body that does not decode', async () => {
    const closed = gate('bad-gzip-closed');
    const res = await leanFetch(`${origin}/bad-gzip`);
    const error = await res.text().catch((e: unknown) => e);
    expect((error as TypeError).message).toBe('terminated');
    // The server sees its socket close (before the fix it stayed open, holding the rest).
    await closed;
  });

  it("sends the URL's host as Host, or the caller's own, and a non-ASCII string body by its bytes", async () => {
    const seen = async (init: RequestInit) =>
      (await (await leanFetch(`${origin}/echo`, init)).json()) as {
        headers: Record<string, string>;
        body: string;
      };
    // Twice: the second call takes the URL as parsed by the first.
    for (let i = 0; i < 2; i++) {
      const plain = await seen({ method: 'POST', body: 'héllo', headers: { 'x-n': String(i) } });
      expect([plain.headers.host, plain.headers['x-n'], plain.headers['content-length'], plain.body]).toEqual(
        [new URL(origin).host, String(i), '6', 'héllo'],
      );
    }
    const own = await seen({ method: 'POST', body: 'x', headers: { Host: 'gateway.test' } });
    expect([own.headers.host, own.body]).toEqual(['gateway.test', 'x']);
    // A Latin-1 header value goes as its one byte, as fetch sends it (and the server reads it back
    // as Latin-1), with a string body as with bytes: not as UTF-8 with the body's text.
    for (const body of ['héllo', new TextEncoder().encode('héllo')]) {
      const latin1 = await seen({ method: 'POST', body, headers: { 'x-title': 'caf\u00e9' } });
      expect([latin1.headers['x-title'], latin1.body]).toEqual(['caf\u00e9', 'héllo']);
    }
  });

  it("leaves the request's headers readable to node:http's instrumentation (diagnostics channel)", async () => {
    const seen: Array<[unknown, unknown]> = [];
    const onStart = ({ request }: { request: { getHeader(name: string): unknown } }) => {
      seen.push([request.getHeader('host'), request.getHeader('authorization')]);
    };
    diagnostics.subscribe('http.client.request.start', onStart as (message: unknown) => void);
    try {
      await (
        await leanFetch(`${origin}/echo`, { method: 'POST', body: 'x', headers: { authorization: 'k' } })
      ).text();
    } finally {
      diagnostics.unsubscribe('http.client.request.start', onStart as (message: unknown) => void);
    }
    expect(seen).toEqual([[new URL(origin).host, 'k']]);
  });

  it('leaves a URL it does not call to Node fetch every time, not only the first', async () => {
    for (let i = 0; i < 2; i++)
      await expect(leanFetch(`ftp://127.0.0.1:${new URL(origin).port}/x`)).rejects.toThrow(TypeError);
    const withCredentials = `http://user:pw@127.0.0.1:${new URL(origin).port}/echo`;
    for (let i = 0; i < 2; i++) await expect(leanFetch(withCredentials)).rejects.toThrow(/credentials/);
  });

  it('reads a body once, whole or as a stream, as fetch does', async () => {
    const res = await leanFetch(`${origin}/echo`, { method: 'POST', body: 'once' });
    expect(res.bodyUsed).toBe(false);
    expect(((await res.json()) as { body: string }).body).toBe('once');
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow('Body is unusable: Body has already been read');
    await expect(res.blob()).rejects.toThrow(TypeError);
    expect(() => res.clone()).toThrow(TypeError);
    expect(res.body!.locked || res.bodyUsed).toBe(true);

    // The stream asked for first, then a whole read through it; a clone reads the same bytes.
    const streamed = await leanFetch(`${origin}/echo`, { method: 'POST', body: 'streamed' });
    expect(streamed.body).toBeInstanceOf(ReadableStream);
    expect(streamed.body).toBe(streamed.body);
    const copy = streamed.clone();
    expect(((await streamed.json()) as { body: string }).body).toBe('streamed');
    expect(((await copy.json()) as { body: string }).body).toBe('streamed');
    await expect(streamed.arrayBuffer()).rejects.toThrow(TypeError);

    const blob = await (await leanFetch(`${origin}/echo`)).blob();
    expect([blob.type, JSON.parse(await blob.text()).method]).toEqual(['application/json', 'GET']);
    const bytes = await (await leanFetch(`${origin}/big`)).arrayBuffer();
    expect(bytes).toBeInstanceOf(ArrayBuffer);
    expect(bytes.byteLength).toBe(200_000);
    const big = await leanFetch(`${origin}/big`);
    let streamedLength = 0;
    for await (const chunk of big.body!) streamedLength += chunk.byteLength;
    expect(streamedLength).toBe(200_000);
  });

  it('rejects a whole read with the signal reason when aborted first, not once the body is all in', async () => {
    const controller = new AbortController();
    const res = await leanFetch(`${origin}/part`, { signal: controller.signal });
    const text = res.text();
    const reason = new DOMException('timed out', 'TimeoutError');
    controller.abort(reason);
    await expect(text).rejects.toBe(reason);
    open('part');

    const late = new AbortController();
    const whole = await leanFetch(`${origin}/echo`, { method: 'POST', body: 'in', signal: late.signal });
    await vi.waitFor(() => expect(getEventListeners(late.signal, 'abort')).toHaveLength(0));
    late.abort(new Error('too late'));
    expect(((await whole.json()) as { body: string }).body).toBe('in');
  });

  it('types a string body as fetch does, unless the caller did', async () => {
    const typed = async (init: RequestInit) =>
      ((await (await leanFetch(`${origin}/echo`, init)).json()) as { headers: Record<string, string> })
        .headers['content-type'];
    expect(await typed({ method: 'POST', body: 'plain' })).toBe('text/plain;charset=UTF-8');
    expect(await typed({ method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } })).toBe(
      'application/json',
    );
    expect(await typed({ method: 'POST', body: new Uint8Array([1]) })).toBeUndefined();
  });

  it("lets go of an idle pooled connection before the server's keep-alive hint runs out", async () => {
    // A server that announces `Keep-Alive: timeout=2` and then never closes the idle connection
    // itself (as a load balancer that drops it silently would not tell either): the client must
    // close it (Node's agent: the hint less 1 s), not keep it to write the next call into.
    const { createServer: createTcpServer } = await import('node:net');
    let closed!: () => void;
    const clientClosed = new Promise<void>((done) => {
      closed = done;
    });
    const tcp = createTcpServer((socket) => {
      socket.once('data', () =>
        socket.write('HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-length: 2\r\n\r\nok'),
      );
      socket.once('end', () => {
        closed();
        socket.end();
      });
    });
    await new Promise<void>((done) => tcp.listen(0, '127.0.0.1', done));
    try {
      const res = await leanFetch(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}/`);
      expect(await res.text()).toBe('ok');
      await clientClosed;
    } finally {
      tcp.close();
    }
  });

  it('gives a connection back to the pool even when a small answer is never read', async () => {
    await (await leanFetch(`${origin}/echo`)).text();
    const before = connections;
    for (let i = 0; i < 5; i++) {
      const { signal } = new AbortController();
      const res = await leanFetch(`${origin}/echo`, { method: 'POST', body: String(i), signal });
      expect(res.status).toBe(201);
      // Not read: the answer is taken off the socket anyway (its end lets go of the signal), so
      // the next call reuses the connection.
      await vi.waitFor(() => expect(getEventListeners(signal, 'abort')).toHaveLength(0));
    }
    expect(connections - before).toBe(0);
  });
});

describe('installLeanFetch', () => {
  it('makes it the global fetch until put back', () => {
    const native = globalThis.fetch;
    const restore = installLeanFetch();
    expect(globalThis.fetch).toBe(leanFetch);
    // Twice is once: the second install leaves the first's restore in charge.
    installLeanFetch()();
    expect(globalThis.fetch).toBe(leanFetch);
    restore();
    expect(globalThis.fetch).toBe(native);
  });
});

describe('serveNode', () => {
  const handler = { fetch: () => new Response('ok') };

  it('serves with the lean fetch as the global one, and puts it back on close', async () => {
    const native = globalThis.fetch;
    const served = await serveNode(handler, { env: {}, port: 0 });
    expect(globalThis.fetch).toBe(leanFetch);
    await served.close();
    expect(globalThis.fetch).toBe(native);
  });

  it("leaves Node's fetch with fetch: 'native' (MAS_NODE_FETCH=native)", async () => {
    const native = globalThis.fetch;
    const served = await serveNode(handler, { env: {}, port: 0, fetch: 'native' });
    expect(globalThis.fetch).toBe(native);
    await served.close();
  });
});

describe('leanFetch over TLS', () => {
  it('calls an https upstream through node:https (a child trusting a throwaway CA)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mas-lean-fetch-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const script = `
        import { createServer } from 'node:https';
        import { readFileSync } from 'node:fs';
        import { leanFetch } from ${JSON.stringify(pathToFileURL(join(process.cwd(), 'node/fetch.mjs')).href)};
        const server = createServer({ key: readFileSync(${JSON.stringify(key)}), cert: readFileSync(${JSON.stringify(cert)}) },
          (req, res) => { let body = ''; req.on('data', (d) => (body += d)); req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ body, fetchMode: req.headers['sec-fetch-mode'] ?? null }));
          }); });
        server.listen(0, '127.0.0.1', async () => {
          const res = await leanFetch('https://127.0.0.1:' + server.address().port + '/v1', { method: 'POST', body: 'over tls' });
          process.stdout.write(JSON.stringify({ status: res.status, seen: await res.json() }));
          server.close(); server.closeAllConnections();
        });`;
      const out = execFileSync(pinnedNode(), ['--input-type=module', '-e', script], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: cert },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(JSON.parse(out)).toEqual({ status: 200, seen: { body: 'over tls', fetchMode: null } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
