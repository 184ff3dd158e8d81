/**
 * Serves one function (or all of them) on Deno with the same code the Workers run: the same
 * module's `fetch(request, env, ctx)`, env read once from Deno.env (settings are parsed once per
 * env object), and a minimal execution context whose `waitUntil` lets background work (metric
 * pushes, webhooks) run on after the response, as it does on Workers.
 */
interface Handler {
  fetch(request: Request, env: Record<string, string>, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled?(
    controller: ScheduledController,
    env: Record<string, string>,
    ctx: ExecutionContext,
  ): Promise<void>;
}

// Deno's globals, declared here so the project's one tsconfig (Workers + Node types) still checks.
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: {
      port: number;
      hostname: string;
      onListen?: (addr: { port: number; hostname: string }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
  cron?: (name: string, schedule: string, handler: () => Promise<void>) => Promise<void>;
};

const ctx: ExecutionContext = {
  waitUntil(promise: Promise<unknown>) {
    promise.catch(() => undefined);
  },
  passThroughOnException() {},
  props: {},
} as ExecutionContext;

export function serve(name: string, handler: Handler): void {
  const env = Deno.env.toObject();
  const port = Number(env.PORT ?? 8001);
  const hostname = env.HOST ?? '127.0.0.1';
  Deno.serve(
    {
      port,
      hostname,
      onListen: (addr) => console.log(`mas ${name} on http://${addr.hostname}:${addr.port} (Deno)`),
    },
    (request) => handler.fetch(request, env, ctx),
  );
  // Deno Deploy and `--unstable-cron` run the same schedule as the Workers cron trigger.
  const scheduled = handler.scheduled;
  if (scheduled && typeof Deno.cron === 'function') {
    Deno.cron(`mas-${name}-expire-approvals`, '* * * * *', () =>
      scheduled(
        { scheduledTime: Date.now(), cron: '* * * * *', noRetry() {} } as ScheduledController,
        env,
        ctx,
      ),
    );
  }
}
