import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// Pure modules and the local stack run under Node; the functions run inside workerd, the runtime
// they deploy to, against the real Postgres and Redis that the global setup provides.
export default defineConfig({
  test: {
    // The skip reporter prints the allow-list and, under CI, fails the run on any other skip.
    reporters: ['default', './test/skip-reporter.ts'],
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['shared/**/*.test.ts', 'local/**/*.test.ts', 'test/node/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            // Test files share the `unidentified` client (no address reaches app.fetch) and, in CI,
            // one Redis: only test/workers/refusing-strangers.test.ts, which sets its own limit and
            // client addresses, should ever see the failed-authentication 429.
            miniflare: {
              bindings: {
                ...inject('stackSettings'),
                LOG_LEVEL: 'warn',
                RATE_LIMIT_AUTH_FAILURES: '1000000',
                // Each call waits for its background work, so batched rate-limit hits would make
                // sequential calls wait for the batch (up to 250 ms); the batching test sets its own.
                RATE_LIMIT_FLUSH_MS: '0',
                // Likewise the usage rows' gathering window (250 ms by default).
                USAGE_FLUSH_MS: '0',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['functions/**/*.test.ts', 'test/workers/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
