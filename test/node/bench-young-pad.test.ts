import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bareWorkerdConfig, garbagePad, spawnTracedWorkerd } from '../../bench/lib/runtimes.ts';
import { freePort } from '../../local/ports.ts';

// bench:isolate-start --young gives a bundle's room before its first scavenge in KiB of the pad
// it allocates first: a pad of N KiB must be N KiB of workerd's heap (V8's --trace-gc-nvp says
// what each scavenge found allocated).
describe('garbagePad (bench:isolate-start --young)', () => {
  it('allocates a KiB of workerd heap for each KiB it is asked for', async () => {
    const kb = 16_384;
    const dir = mkdtempSync(join(tmpdir(), 'mas-young-pad-'));
    writeFileSync(join(dir, 'pad.js'), garbagePad(kb));
    writeFileSync(
      join(dir, 'index.js'),
      "import './pad.js';\nexport default { fetch: () => new Response('ok') };\n",
    );
    const port = await freePort();
    writeFileSync(
      join(dir, 'config.capnp'),
      bareWorkerdConfig(port, ['index.js', 'pad.js'], {}, ['--trace-gc', '--trace-gc-nvp']),
    );
    // As the bench runs it: V8's trace on workerd's unbuffered stdout.
    const child = spawnTracedWorkerd(join(dir, 'config.capnp'));
    child.stderr.resume();
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    /** KiB the scavenges found allocated (all of the pad but what the last one left in new space). */
    const scavengedKb = () => {
      let bytes = 0;
      for (const [, json] of out.matchAll(/GC: (\{.*\})/g)) {
        const gc = JSON.parse(json!) as { gc: string; allocated: number };
        if (gc.gc === 's') bytes += gc.allocated;
      }
      return bytes / 1024;
    };
    try {
      // Listening comes after module evaluation, which allocated the pad.
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.status, {
          timeout: 30_000,
        })
        .toBe(200);
      // At most one new space (1 MiB) of it is left unscavenged.
      await expect.poll(scavengedKb, { timeout: 5_000 }).toBeGreaterThan(kb - 1024);
      expect(scavengedKb()).toBeLessThan(kb * 1.1);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
