import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Settings } from '../env.ts';
import { runReadyChecks } from './checks.ts';

describe('runReadyChecks', () => {
  it("reports a Postgres that refuses with the 503's words only, never the driver's host, port, user or database", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const { ready, checks } = await runReadyChecks(
      { DATABASE_URL: `postgres://someone:s3cret-pw@127.0.0.1:${port}/somedb` } as Settings,
      { timeoutMs: 2000, required: ['postgres'] },
    );
    expect(ready).toBe(false);
    // The driver's own message is "connect ECONNREFUSED 127.0.0.1:<port>".
    expect(checks.postgres.error).toBe('Postgres is unreachable (connection refused).');
  });
});
