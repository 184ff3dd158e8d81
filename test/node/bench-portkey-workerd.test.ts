import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../bench/lib/children.ts';
import { startFakeUpstream } from '../../bench/lib/fake-upstream.ts';
import { portkeyHeaders } from '../../bench/lib/peer-process.ts';
import { workerSource } from '../../bench/lib/peers/portkey-worker.ts';

// The portkey-workerd bench peer end to end: Portkey's installed Node build bundled as a Worker
// (bench/lib/peers/portkey-worker.ts) and served by the bare workerd, as the bench starts it. It
// must answer the bench's three requests with the fake's answers, not a gateway error; a Portkey
// upgrade that changes what the build step relies on fails here, not mid-bench.
describe('portkey-workerd peer', () => {
  let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
  let peer: Child<{ url: string; pid: number }>;
  beforeAll(async () => {
    fake = await startFakeUpstream({ chunks: 3, dim: 8 });
    peer = await startChild('portkey-workerd', 'bench/lib/peer-process.ts', ['portkey-workerd', fake.url], {
      timeoutMs: 60_000,
    });
  }, 90_000);
  afterAll(async () => {
    await peer?.stop();
    await fake?.close();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${peer.info.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-bench',
        ...portkeyHeaders(fake.url),
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const messages = [{ role: 'user', content: 'Say hello.' }];

  it('answers chat, stream and embeddings with the upstream answers', async () => {
    const chat = await post('/v1/chat/completions', { model: 'fast', messages });
    expect(chat.status, chat.text).toBe(200);
    expect(JSON.parse(chat.text).choices[0].message.content).toBe('Hello from the bench upstream.');

    const stream = await post('/v1/chat/completions', { model: 'fast', stream: true, messages });
    expect(stream.status, stream.text).toBe(200);
    expect(stream.type).toMatch(/^text\/event-stream/);
    const events = stream.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.filter((e) => e.includes(' word'))).toHaveLength(3);
    expect(stream.text).toContain('"usage":{"prompt_tokens":9');

    const embed = await post('/v1/embeddings', { model: 'embedding', input: 'The quick brown fox.' });
    expect(embed.status, embed.text).toBe(200);
    expect(JSON.parse(embed.text).data[0].embedding).toHaveLength(8);
  });

  it('answers an unreachable upstream with an error, which the bench check fails on', async () => {
    const res = await fetch(`${peer.info.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-bench',
        ...portkeyHeaders('http://127.0.0.1:1'),
      },
      body: JSON.stringify({ model: 'fast', messages }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await res.text()).not.toContain('Hello from the bench upstream.');
  });
});

describe('portkey-workerd build step', () => {
  const shaped = 'import{serve as e}from"@hono/node-server";const a=1;Gu(e({fetch:Lu.fetch,port:Ku}))';
  it('cuts the start-up tail after serve() and exports the app', () => {
    const out = workerSource(`#!/usr/bin/env node\n${shaped},console.clear(),console.log("ready");`);
    expect(out).not.toContain('console.clear');
    expect(out).not.toContain('#!');
    expect(out).toContain("export { default } from '@hono/node-server'");
    expect(out.indexOf("'--headless'")).toBeLessThan(out.indexOf('serve as e'));
  });
  it('refuses a file it does not know the shape of', () => {
    expect(() => workerSource(`${shaped};console.log(1)`)).toThrow(/exactly one console\.clear/);
    expect(() => workerSource('const a=1,console.clear(),x();')).toThrow(/serve\(\{fetch, port\}\)/);
    expect(() => workerSource(`${shaped},console.clear(),Lu.get("/x",h);`)).toThrow(/registers routes/);
  });
});
