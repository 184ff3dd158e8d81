import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registry } from '../../shared/metrics/registry.ts';
import {
  badDependsOn,
  badVolumes,
  type ComposeDoc,
  composeSchemaErrors,
  envExampleNames,
  hardcodedPorts,
  interpolatedVars,
  literalSecrets,
  missingHealthchecks,
  undeclaredVars,
  unpinnedImages,
} from './compose-checks.ts';
import { dashboardTargets, exposedMetricNames, queryProblems } from './dashboard-checks.ts';

const read = (path: string) => readFileSync(path, 'utf8');
const composeText = read('docker-compose.local.yml');
const compose = parse(composeText) as ComposeDoc;
const envExample = read('.env.example');
const copy = (): ComposeDoc => structuredClone(compose);
const service = (doc: ComposeDoc, name: string) => doc.services![name]!;

describe('docker-compose.local.yml', () => {
  it('is valid against the Compose Specification schema, and the validator rejects a broken copy', () => {
    expect(composeSchemaErrors(compose)).toEqual([]);
    const broken = copy();
    service(broken, 'postgres').ports = 5432;
    (service(broken, 'redis').healthcheck as Record<string, unknown>).tset = ['CMD', 'true'];
    expect(composeSchemaErrors(broken).length).toBeGreaterThanOrEqual(2);
  });

  it('runs every service of the full stack', () => {
    expect(Object.keys(compose.services ?? {}).sort()).toEqual(
      [
        'functions',
        'grafana',
        'litellm',
        'postgres',
        'prometheus',
        'pushgateway',
        'qdrant',
        'redis',
        'redis-http',
      ].sort(),
    );
    expect(service(compose, 'postgres').image).toMatch(/^pgvector\/pgvector:/);
    expect(service(compose, 'redis-http').image).toMatch(/^hiett\/serverless-redis-http:/);
    expect(service(compose, 'functions').command).toEqual(
      expect.arrayContaining([expect.stringContaining('wrangler dev --ip 0.0.0.0 --port 8001')]),
    );
  });

  it('pins every image to a version; floating tags and unpinned builds are caught', () => {
    expect(unpinnedImages(compose)).toEqual([]);
    for (const image of [
      'redis:7.4-alpine',
      'redis:latest',
      'redis',
      'grafana/grafana:main',
      'qdrant/qdrant:v1',
    ]) {
      const doc = copy();
      service(doc, 'redis').image = image;
      expect(unpinnedImages(doc), image).toEqual([expect.stringContaining('redis: image')]);
    }
    const digest = copy();
    service(digest, 'redis').image = `redis@sha256:${'a'.repeat(64)}`;
    expect(unpinnedImages(digest)).toEqual([]);
    const build = copy();
    service(build, 'redis').image = 'mas-functions/redis:1';
    service(build, 'redis').build = { context: 'https://github.com/redis/docker-library-redis.git#master' };
    expect(unpinnedImages(build)).toEqual([expect.stringContaining('not pinned to a commit')]);
    service(build, 'redis').build = {
      context: `https://github.com/redis/docker-library-redis.git#${'a'.repeat(40)}`,
    };
    expect(unpinnedImages(build)).toEqual([]);
  });

  it('takes every variable it interpolates from .env.example; a new one is caught', () => {
    expect(undeclaredVars(compose, envExample)).toEqual([]);
    // `$$VAR` is the container's own variable, not compose's.
    expect(interpolatedVars(compose).has('POSTGRES_USER')).toBe(true);
    expect(interpolatedVars({ test: 'pg_isready -U $${POSTGRES_USER}' }).size).toBe(0);
    const doc = copy();
    (service(doc, 'functions').environment as Record<string, string>).NEW_SETTING = `\${NEW_SETTING:-x}`;
    expect(undeclaredVars(doc, envExample)).toEqual(['NEW_SETTING is not in .env.example']);
  });

  it('lists each required secret with a placeholder in .env.example, or says how to make it', () => {
    const required = [...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]!);
    expect(new Set(required)).toEqual(
      new Set([
        'POSTGRES_PASSWORD',
        'REDIS_HTTP_TOKEN',
        'LITELLM_MASTER_KEY',
        'GRAFANA_ADMIN_PASSWORD',
        'APPROVAL_SECRET',
      ]),
    );
    const names = envExampleNames(envExample);
    for (const name of required) expect(names.has(name), name).toBe(true);
    expect(envExample).toMatch(/APPROVAL_SECRET=\$\(openssl rand/);
  });

  it('gives every service a healthcheck; a missing or disabled one is caught', () => {
    expect(missingHealthchecks(compose)).toEqual([]);
    const doc = copy();
    delete service(doc, 'qdrant').healthcheck;
    service(doc, 'redis').healthcheck = { test: ['NONE'] };
    expect(missingHealthchecks(doc)).toEqual(['redis: no healthcheck', 'qdrant: no healthcheck']);
  });

  it('waits for healthy dependencies only; list form or service_started is caught', () => {
    expect(badDependsOn(compose)).toEqual([]);
    const doc = copy();
    service(doc, 'grafana').depends_on = ['prometheus'];
    service(doc, 'prometheus').depends_on = { pushgateway: { condition: 'service_started' } };
    expect(badDependsOn(doc)).toEqual([
      'prometheus: depends on pushgateway without condition: service_healthy',
      'grafana: depends_on must be a mapping with condition: service_healthy',
    ]);
  });

  it('uses named, declared volumes only; anonymous and undeclared ones are caught', () => {
    expect(badVolumes(compose)).toEqual([]);
    const doc = copy();
    service(doc, 'redis').volumes = ['/data', 'redis-data:/data'];
    expect(badVolumes(doc)).toEqual([
      'redis: anonymous volume /data',
      'redis: volume redis-data is not declared under volumes:',
    ]);
  });

  it('publishes host ports from .env with defaults', () => {
    expect(hardcodedPorts(compose)).toEqual([]);
    const doc = copy();
    service(doc, 'redis').ports = ['6379:6379'];
    expect(hardcodedPorts(doc)).toEqual([`redis: port "6379:6379" is not \${X_PORT:-default}:port`]);
  });

  it('holds no literal secret (shared/redact finds none); one written in is caught', () => {
    expect(literalSecrets(compose, composeText)).toEqual([]);
    const password = copy();
    (service(password, 'postgres').environment as Record<string, string>).POSTGRES_PASSWORD =
      'hunter2hunter2';
    expect(literalSecrets(password, '')).not.toEqual([]);
    const key = `${composeText}\n      OPENAI_API_KEY: sk-proj-abcdefghijklmnopqrstuvwx1234\n`;
    expect(literalSecrets(compose, key)).toContain('openai_key');
    const url = copy();
    (service(url, 'functions').environment as Record<string, string>).DATABASE_URL =
      'postgres://postgres:s3cretpass@postgres:5432/mas';
    expect(literalSecrets(url, '')).toContain('url_password');
  });

  it('mounts files that exist', () => {
    for (const [name, svc] of Object.entries(compose.services ?? {})) {
      for (const v of (svc.volumes as string[] | undefined) ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(source), `${name}: ${source}`).toBe(true);
      }
    }
  });
});

describe('Prometheus and Grafana config', () => {
  const known = exposedMetricNames(
    registry.getMetricsAsArray().map((m) => ({ name: m.name, type: String(m.type) })),
  );
  const dashboardPath = 'config/grafana/dashboards/mas-functions.json';
  const dashboard = JSON.parse(read(dashboardPath));
  const targets = dashboardTargets(dashboard);

  it('queries only registry metrics, always summed over isolates, quantiles per le', () => {
    expect(targets.length).toBeGreaterThan(15);
    const problems = targets.flatMap((t) => queryProblems(t.expr, known).map((p) => `${t.panel}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('catches queries that would be wrong across many isolates', () => {
    const cases: Array<[string, string]> = [
      ['rate(http_requests_total[5m])', 'http_requests_total is not aggregated over instance'],
      ['sum by (instance, function) (rate(http_requests_total[5m]))', 'sum by keeps instance'],
      ['sum without (deployment) (rate(http_requests_total[5m]))', 'sum without keeps instance'],
      [
        'histogram_quantile(0.95, sum by (function) (rate(http_request_duration_seconds_bucket[5m])))',
        'sum over buckets drops le',
      ],
      [
        'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))',
        'histogram_quantile without a sum by (le, ...)',
      ],
      ['sum(rate(http_request_duration_seconds_bucket[5m]))', 'used outside histogram_quantile'],
      ['sum by (model) (rate(llm_fallbacks_total[5m]))', 'unknown metric llm_fallbacks_total'],
    ];
    for (const [expr, problem] of cases)
      expect(queryProblems(expr, known), expr).toEqual(
        expect.arrayContaining([expect.stringContaining(problem)]),
      );
    expect(
      queryProblems('sum without (instance, deployment) (rate(http_requests_total[5m]))', known),
    ).toEqual([]);
  });

  it('covers what the issue asks for', () => {
    const all = targets.map((t) => t.expr).join('\n');
    for (const q of ['0.5', '0.95', '0.99'])
      expect(all).toContain(
        `histogram_quantile(${q}, sum by (le, function) (rate(http_request_duration_seconds_bucket`,
      );
    expect(all).toMatch(/http_requests_total\{status=~"5\.\."\}/);
    expect(all).toMatch(/sum by \(provider, model, role, status\) \(rate\(llm_requests_total/);
    expect(all).toContain('llm_tokens_total');
    expect(all).toContain('approvals_total');
    expect(all).toContain('sum by (category) (rate(audit_actions_total');
    const titles = dashboard.panels.map((p: { title: string }) => p.title).join('\n');
    for (const word of ['pending', 'Estimated cost', 'Failed attempts', 'expired', 'Audit writes'])
      expect(titles).toContain(word);
  });

  it('prices the cost panel as config/models.yaml does', () => {
    const models = (
      parse(read('config/models.yaml')) as {
        models: Array<{ id: string; price?: { input: number; output: number } }>;
      }
    ).models;
    const cost = targets.find((t) => t.panel.startsWith('Estimated cost'))!.expr;
    const priced = models.filter((m) => m.price);
    expect(priced.length).toBeGreaterThan(0);
    for (const m of priced) {
      for (const [type, price] of [
        ['prompt', m.price!.input],
        ['completion', m.price!.output],
      ] as const) {
        const term = `increase(llm_tokens_total{model="${m.id}", type="${type}"}[$__range])) * ${price})`;
        if (price) expect(cost, `${m.id} ${type}`).toContain(term);
        else expect(cost).not.toContain(`model="${m.id}", type="${type}"`);
      }
    }
  });

  it('is provisioned from the paths compose mounts', () => {
    const grafana = service(compose, 'grafana');
    const mounts = new Map(
      (grafana.volumes as string[]).map((v) => {
        const [source, target] = v.split(':');
        return [source!, target!];
      }),
    );
    const dashboardsDir = mounts.get('./config/grafana/dashboards');
    expect(mounts.get('./config/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const provider = parse(read('config/grafana/provisioning/dashboards/mas-functions.yml')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(provider.providers[0]?.type).toBe('file');
    expect(provider.providers[0]?.options.path).toBe(dashboardsDir);
    const home = (grafana.environment as Record<string, string>).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home).toBe(`${dashboardsDir}/mas-functions.json`);

    const datasources = parse(read('config/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    const uids = new Set(datasources.datasources.map((d) => d.uid));
    for (const p of dashboard.panels.filter((p: { type: string }) => p.type !== 'row'))
      expect(uids.has(p.datasource.uid), p.title).toBe(true);
    expect(datasources.datasources[0]?.url).toBe('http://prometheus:9090');
    expect(mounts.size).toBe(3);
  });

  it('has Prometheus scrape the Pushgateway keeping the pushed labels', () => {
    const prometheus = parse(read('config/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        honor_labels?: boolean;
        static_configs: Array<{ targets: string[] }>;
      }>;
    };
    const job = prometheus.scrape_configs.find((j) =>
      j.static_configs.some((s) => s.targets.includes('pushgateway:9091')),
    );
    expect(job?.honor_labels).toBe(true);
    const mounted = (service(compose, 'prometheus').volumes as string[]).some((v) =>
      v.startsWith('./config/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml'),
    );
    expect(mounted).toBe(true);
    const env = service(compose, 'functions').environment as Record<string, string>;
    expect(env.PUSHGATEWAY_URL).toBe('http://pushgateway:9091');
  });
});
