import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stopChild, untilHealthy } from '../../bench/lib/runtimes.ts';
import { freePort } from '../../local/ports.ts';

// A bench server that fails to start must not outlive the throw: an orphan workerd would load
// every later cell of the run, and its scratch folder would stay in /tmp.
describe('untilHealthy (the bench servers start)', () => {
  const node = (code: string) => spawn(process.execPath, ['-e', code], { stdio: 'ignore' });

  it('stops a child that never answers and removes its folder before throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mas-until-healthy-'));
    const child = node('setInterval(() => {}, 1000)');
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(
      untilHealthy(url, child, 'sleeper', {
        ms: 300,
        stop: () => stopChild(child, dir),
        detail: () => 'why',
      }),
    ).rejects.toThrow('sleeper did not answer within 0.3 s: why');
    expect(child.signalCode).toBe('SIGTERM');
    expect(existsSync(dir)).toBe(false);
  });

  it('gives up at the deadline on a server that takes the connection and never answers', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'mas-until-healthy-'));
    const child = node('setInterval(() => {}, 1000)');
    try {
      const { port } = silent.address() as AddressInfo;
      await expect(
        untilHealthy(`http://127.0.0.1:${port}`, child, 'mute', {
          ms: 300,
          stop: () => stopChild(child, dir),
        }),
      ).rejects.toThrow('mute did not answer within 0.3 s');
      expect(child.signalCode).toBe('SIGTERM');
      expect(existsSync(dir)).toBe(false);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('throws with the exit code of a child that exits, and still removes its folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mas-until-healthy-'));
    const child = node('process.exit(3)');
    await new Promise((r) => child.once('exit', r));
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(
      untilHealthy(url, child, 'quitter', { ms: 60_000, stop: () => stopChild(child, dir) }),
    ).rejects.toThrow('quitter exited (code 3)');
    expect(existsSync(dir)).toBe(false);
  });

  it('returns once /health answers 2xx, and leaves the child running', async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      calls += 1;
      // The first probe gets a 503: untilHealthy waits for a 2xx, not any answer.
      res.writeHead(req.url === '/health' && calls > 1 ? 200 : 503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const child = node('setInterval(() => {}, 1000)');
    try {
      const { port } = server.address() as AddressInfo;
      let stopped = false;
      await untilHealthy(`http://127.0.0.1:${port}`, child, 'server', {
        ms: 30_000,
        stop: async () => {
          stopped = true;
        },
        everyMs: 10,
      });
      expect(calls).toBe(2);
      expect(stopped).toBe(false);
      expect(child.exitCode).toBeNull();
    } finally {
      await stopChild(child);
      server.close();
    }
  });
});
