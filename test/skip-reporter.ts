import type { Reporter, TestModule } from 'vitest/node';

/**
 * Tests that may skip, each with the reason. Everything else that skips fails the run under CI
 * (`CI` set, as `.ci/run` does), so a missing dependency can never turn the suite silently green.
 * Keys are `<file> > <describe> > <test>`, exactly as printed below.
 */
export const ALLOWED_SKIPS: Record<string, string> = {
  // The other half of the pgvector pair: it runs where the main Postgres lacks pgvector (CI's
  // PostgreSQL 15). On embedded PGlite, which has pgvector, there is no such Postgres to ask.
  'functions/embed/embed.test.ts > vector memory on a Postgres without pgvector > a clear 503 naming the fix, never a crash':
    'runs only where the main Postgres has no pgvector',
};

/** Prints every skipped test at the end of the run; under CI, an unlisted skip fails it. */
export default class SkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const strict = Boolean(process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0');
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state === 'skipped') skipped.push(`${module.relativeModuleId} > ${test.fullName}`);
      }
    }
    const unlisted = skipped.filter((name) => !(name in ALLOWED_SKIPS));
    const lines = ['', `Skip allow-list (test/skip-reporter.ts), ${skipped.length} skipped in this run:`];
    for (const [name, why] of Object.entries(ALLOWED_SKIPS)) {
      lines.push(`  ${skipped.includes(name) ? 'skipped    ' : 'not skipped'}  ${name}  (${why})`);
    }
    if (unlisted.length) {
      lines.push(
        strict
          ? `Unlisted skips (${unlisted.length}) fail this run because CI is set; install what they need (.ci/run lists it):`
          : `Unlisted skips (${unlisted.length}); under CI these fail the run:`,
      );
      for (const name of unlisted) lines.push(`  ${name}`);
      if (strict) process.exitCode = 1;
    }
    console.log(lines.join('\n'));
  }
}
