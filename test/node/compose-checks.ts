/**
 * Static checks of docker-compose.local.yml and the Grafana/Prometheus config it mounts: CI has no
 * Docker engine, so these are what stands between a typo and a `make up` that fails on someone
 * else's machine. Each check returns a list of problems (empty: fine), so the tests can also
 * prove that a broken copy is caught.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { redactSecrets, redactString } from '../../shared/redact/index.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ComposeDoc = {
  services?: Record<string, Record<string, unknown>>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
};

/** Relative to the repo root, where vitest runs. */
const SCHEMA_PATH = 'test/fixtures/compose-spec/compose-spec.json';

let validator: ReturnType<Ajv['compile']> | undefined;

/** Errors of the Compose Specification's JSON schema (vendored, see test/fixtures/compose-spec/). */
export function composeSchemaErrors(doc: unknown): string[] {
  if (!validator) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    // The schema names its draft by an https URL Ajv does not know; it is draft-07, Ajv's default.
    delete schema.$schema;
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  if (validator(doc)) return [];
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}

/** A tag with a full version (`1.2.3`, `v1.2.3-stable`, `0.8.0-pg17`) and/or a sha256 digest. */
const PINNED_IMAGE = /^[a-z0-9./_-]+(?::v?\d+\.\d+\.\d+[A-Za-z0-9._-]*)?(?:@sha256:[0-9a-f]{64})?$/;
const FLOATING = /:(latest|main|master|stable|edge|nightly|dev)$/;

export function unpinnedImages(doc: ComposeDoc): string[] {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    const image = typeof service.image === 'string' ? service.image : undefined;
    const build = service.build as { context?: string } | string | undefined;
    if (build !== undefined) {
      // A locally built image is pinned by its source: a git context at a full commit id.
      const context = typeof build === 'string' ? build : build.context;
      if (!context || !/#[0-9a-f]{40}(?::|$)/.test(context))
        problems.push(`${name}: build context is not pinned to a commit (${context})`);
      if (!image || FLOATING.test(image) || !/:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*$/.test(image))
        problems.push(`${name}: a built image needs a versioned local tag (${image})`);
      continue;
    }
    if (!image) {
      problems.push(`${name}: no image`);
      continue;
    }
    const hasTagOrDigest = /:[^/]+$/.test(image) || image.includes('@sha256:');
    if (!hasTagOrDigest || FLOATING.test(image) || !PINNED_IMAGE.test(image))
      problems.push(`${name}: image ${image} is not pinned to a version`);
  }
  return problems;
}

/** Every string value of the document (keys included), outside comments, as compose reads them. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  return out;
}

/** `${VAR}`, `${VAR:-x}`, `${VAR:?x}`, `$VAR`; `$$` is an escaped `$` (the container's variable). */
export function interpolatedVars(doc: unknown): Set<string> {
  const vars = new Set<string>();
  for (const s of strings(doc)) {
    const unescaped = s.replace(/\$\$/g, '');
    for (const m of unescaped.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g))
      vars.add((m[1] ?? m[2])!);
  }
  return vars;
}

/** Names in .env.example, set (`NAME=`) or documented commented out (`# NAME=`). */
export function envExampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(?:#\s*)?([A-Z][A-Z0-9_]*)=/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

export function undeclaredVars(doc: unknown, envExample: string): string[] {
  const declared = envExampleNames(envExample);
  return [...interpolatedVars(doc)].filter((v) => !declared.has(v)).map((v) => `${v} is not in .env.example`);
}

export function missingHealthchecks(doc: ComposeDoc): string[] {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    const hc = service.healthcheck as { test?: unknown; disable?: unknown } | undefined;
    const test = hc?.test;
    const empty = test === undefined || (Array.isArray(test) && (test.length === 0 || test[0] === 'NONE'));
    if (!hc || hc.disable === true || empty) problems.push(`${name}: no healthcheck`);
  }
  return problems;
}

export function badDependsOn(doc: ComposeDoc): string[] {
  const problems: string[] = [];
  const services = doc.services ?? {};
  for (const [name, service] of Object.entries(services)) {
    const deps = service.depends_on;
    if (deps === undefined) continue;
    if (Array.isArray(deps) || typeof deps !== 'object' || deps === null) {
      problems.push(`${name}: depends_on must be a mapping with condition: service_healthy`);
      continue;
    }
    for (const [dep, spec] of Object.entries(deps as Record<string, { condition?: string }>)) {
      if (!(dep in services)) problems.push(`${name}: depends on unknown service ${dep}`);
      if (spec?.condition !== 'service_healthy')
        problems.push(`${name}: depends on ${dep} without condition: service_healthy`);
    }
  }
  return problems;
}

export function badVolumes(doc: ComposeDoc): string[] {
  const problems: string[] = [];
  const declared = new Set(Object.keys(doc.volumes ?? {}));
  const used = new Set<string>();
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    for (const entry of (service.volumes as unknown[]) ?? []) {
      let source: string | undefined;
      let type = 'volume';
      if (typeof entry === 'string') {
        const parts = entry.split(':');
        if (parts.length < 2) {
          problems.push(`${name}: anonymous volume ${entry}`);
          continue;
        }
        source = parts[0]!;
        if (/^[./~]/.test(source)) type = 'bind';
      } else if (entry && typeof entry === 'object') {
        const long = entry as { type?: string; source?: string };
        type = long.type ?? 'volume';
        source = long.source;
        if (type === 'volume' && !source) {
          problems.push(`${name}: anonymous volume`);
          continue;
        }
      }
      if (type !== 'volume' || !source) continue;
      used.add(source);
      if (!declared.has(source)) problems.push(`${name}: volume ${source} is not declared under volumes:`);
    }
  }
  for (const v of declared) if (!used.has(v)) problems.push(`volume ${v} is declared but unused`);
  return problems;
}

/** Host ports come from .env: `${X_PORT:-default}:container`. */
export function hardcodedPorts(doc: ComposeDoc): string[] {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    for (const p of (service.ports as unknown[]) ?? []) {
      if (typeof p !== 'string' || !/^\$\{[A-Z_]*PORT:-\d+\}:\d+$/.test(p))
        problems.push(`${name}: port ${JSON.stringify(p)} is not \${X_PORT:-default}:port`);
    }
  }
  return problems;
}

const INTERPOLATION = /\$\$?\{[^}]*\}|\$\$?[A-Za-z_][A-Za-z0-9_]*/g;

function stripInterpolations(value: unknown): Json {
  if (typeof value === 'string') return value.replace(INTERPOLATION, '');
  if (Array.isArray(value)) return value.map(stripInterpolations);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.replace(INTERPOLATION, ''), stripInterpolations(v)]),
    );
  return value as Json;
}

/**
 * Literal secrets, found by the project's own redactor once every `${VAR}` is taken out: what is
 * left under a key like POSTGRES_PASSWORD, or anything shaped like a key or token, is a secret
 * written into the file. Scans the parsed document and the raw text (comments included).
 */
export function literalSecrets(doc: unknown, text: string): string[] {
  const rules = new Set<string>();
  for (const r of redactSecrets(stripInterpolations(doc)).rules) rules.add(r);
  for (const r of redactString(text.replace(INTERPOLATION, '')).rules) rules.add(r);
  return [...rules];
}
