import { bundledModels } from '../config/compiled.ts';
import { parseOverride } from '../config/override.ts';
import type { Env } from '../env.ts';
import { AppError, badRequest } from '../errors/index.ts';
import { type ModelEntry, type ModelsConfig, modelsConfig, type ProviderEntry } from './models-schema.ts';

/** The bundled `config/models.yaml`, validated at build time (local/config-compile.ts). */
export { bundledModels };

/** A model ready to call: its entry, its provider and the credential found for it. */
export interface ResolvedModel {
  model: ModelEntry;
  providerId: string;
  provider: ProviderEntry;
  baseURL: string;
  apiKey: string | undefined;
  /** Why it cannot be called (no credential), shown when nothing is left to try. */
  unavailable?: string;
}

export interface ResolvedTarget {
  role: string;
  chain: ResolvedModel[];
}

/**
 * The effective registry for an env: `MAS_MODELS_YAML` (a whole registry, as JSON in a Worker:
 * shared/config/override.ts; for deployments and tests) or the bundled file, then the
 * environment's overrides: `LLM_BASE_URL` with `LLM_DEFAULT_PROVIDER=openai_compatible` sends
 * every role to that one server (model names: `LLM_MODEL_<ROLE>`, a comma-separated chain, else
 * the role's first model id), then to `LLM_FALLBACK_BASE_URL` under the same names when set;
 * `LLM_MODEL_<ROLE>` alone replaces a role's first model with that chain.
 */
export function effectiveRegistry(env: Env): ModelsConfig {
  // Bindings are fixed per isolate: build the registry once per env object, not per request.
  let registry = registryCache.get(env);
  if (!registry) {
    registry = buildRegistry(env);
    registryCache.set(env, registry);
  }
  return registry;
}

const registryCache = new WeakMap<object, ModelsConfig>();

function buildRegistry(env: Env): ModelsConfig {
  const override = typeof env.MAS_MODELS_YAML === 'string' ? env.MAS_MODELS_YAML : '';
  let base = bundledModels;
  if (override) {
    base = parseOverride('MAS_MODELS_YAML', override, modelsConfig());
  }
  // `LLM_MODEL_PLANNING=qwen2.5:14b,llama3.1:8b`: a chain, tried in order.
  const roleOverride = (role: string) => {
    const value = env[`LLM_MODEL_${role.toUpperCase().replace(/-/g, '_')}`];
    if (typeof value !== 'string') return undefined;
    const names = value
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    return names.length ? names : undefined;
  };
  const roles: Record<string, string[]> = {};
  const providers = { ...base.providers };
  const allLocal =
    env.LLM_DEFAULT_PROVIDER === 'openai_compatible' &&
    typeof env.LLM_BASE_URL === 'string' &&
    env.LLM_BASE_URL;
  // One server for everything means one server for everything: a registry id that names another
  // provider (`gpt-4.1`) goes to that server under its own id (LiteLLM's model_name), never to
  // that provider's real API behind the operator's back. A provider whose own base URL variable
  // is set (OPENAI_BASE_URL...) was pointed somewhere on purpose, and keeps its models.
  const pointed = (provider: string) => {
    const variable = base.providers[provider]?.base_url_env;
    return Boolean(
      variable && variable !== 'LLM_BASE_URL' && typeof env[variable] === 'string' && env[variable],
    );
  };
  const models = allLocal
    ? base.models.map((m) =>
        m.provider === 'local' || pointed(m.provider) ? m : { ...m, provider: 'local', upstream: m.id },
      )
    : [...base.models];
  const timeoutMs = localTimeout(env);
  if (allLocal) {
    providers.local = {
      ...(providers.local ?? {
        type: 'openai_compatible',
        base_url: String(env.LLM_BASE_URL),
        base_url_env: 'LLM_BASE_URL',
        api_key_env: 'LLM_API_KEY',
        api_key_optional: true,
      }),
      timeout_ms: timeoutMs ?? providers.local?.timeout_ms ?? 60_000,
    };
  }
  const fallbackURL = allLocal && typeof env.LLM_FALLBACK_BASE_URL === 'string' && env.LLM_FALLBACK_BASE_URL;
  if (fallbackURL) {
    providers.local_fallback = {
      type: 'openai_compatible',
      base_url: fallbackURL,
      base_url_env: 'LLM_FALLBACK_BASE_URL',
      api_key_env: 'LLM_FALLBACK_API_KEY',
      api_key_optional: true,
      timeout_ms: timeoutMs ?? 60_000,
    };
  }
  for (const [role, chain] of Object.entries(base.roles)) {
    const wanted = roleOverride(role);
    if (allLocal) {
      const first = base.models.find((m) => m.id === chain[0]);
      const names = wanted ?? [chain[0]!];
      const servers = fallbackURL ? (['local', 'local_fallback'] as const) : (['local'] as const);
      roles[role] = [];
      for (const provider of servers) {
        names.forEach((upstream, i) => {
          // `planning@local`, `planning@local.2`, ..., then `planning@fallback`, ...
          const id = `${role}@${provider === 'local' ? 'local' : 'fallback'}${i ? `.${i + 1}` : ''}`;
          models.push({
            id,
            provider,
            upstream,
            capabilities: first?.capabilities ?? ['chat'],
            context_window: first?.context_window ?? 32_768,
            ...(first?.dimension ? { dimension: first.dimension } : {}),
          });
          roles[role]!.push(id);
        });
      }
    } else if (wanted) {
      const first = models.find((m) => m.id === chain[0])!;
      const ids = wanted.map((name, i) => {
        if (models.some((m) => m.id === name)) return name;
        const id = `${role}@override${i ? `.${i + 1}` : ''}`;
        models.push({ ...first, id, upstream: name });
        return id;
      });
      roles[role] = [...ids, ...chain.slice(1).filter((id) => !ids.includes(id))];
    } else {
      roles[role] = chain;
    }
  }
  return { ...base, models, providers, roles };
}

/** `LLM_TIMEOUT_MS`: the per-attempt timeout of the LLM_BASE_URL servers. */
function localTimeout(env: Env): number | undefined {
  const raw = env.LLM_TIMEOUT_MS;
  if (typeof raw !== 'string' || !raw.trim()) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0 || ms > 600_000) {
    throw new AppError(
      500,
      'invalid_configuration',
      'LLM_TIMEOUT_MS must be an integer of milliseconds (1..600000).',
    );
  }
  return ms;
}

const ROLE_PREFIX = 'role:';

/**
 * The `x-mas-role` header as `resolveTarget` takes it: read only when it counts, without a
 * `model`, since each header read is a call into the runtime (two through Hono's `c.req.header`).
 */
export function roleHeaderFor(
  req: { header(name: string): string | undefined },
  model: string | undefined,
): string | undefined {
  return model?.trim() ? undefined : req.header('x-mas-role');
}

/**
 * What the caller asked for: a role (`planning`, `role:planning`, or no model and an
 * `x-mas-role` header) gives the role's chain; a registry model id gives that model alone.
 */
export function resolveTarget(
  env: Env,
  model: string | undefined,
  roleHeader: string | undefined,
  capability: 'chat' | 'embeddings',
): ResolvedTarget {
  const registry = effectiveRegistry(env);
  let role: string | undefined;
  let ids: string[] | undefined;
  const asked = model?.trim() || undefined;
  if (!asked) {
    if (!roleHeader)
      throw badRequest('Give `model` (a model id or a role) or the x-mas-role header.', 'model');
    // Bounded like `model` (200): the name is echoed in errors and logs.
    if (roleHeader.length > 200)
      throw new AppError(400, 'invalid_header', 'x-mas-role must be at most 200 characters.', {
        param: 'x-mas-role',
      });
    role = roleHeader.trim();
  } else if (asked.startsWith(ROLE_PREFIX)) {
    role = asked.slice(ROLE_PREFIX.length);
  } else if (isRole(registry, asked)) {
    role = asked;
  } else if (registry.models.some((m) => m.id === asked)) {
    ids = [asked];
    role = 'direct';
  }
  if (!ids) {
    if (!role || !isRole(registry, role)) {
      throw new AppError(404, 'model_not_found', `The model or role '${asked ?? role}' does not exist.`, {
        param: 'model',
      });
    }
    ids = registry.roles[role]!;
  }
  const chain = ids.map((id) => resolveModel(env, registry, id));
  const usable = chain.filter((m) => m.model.capabilities.includes(capability));
  if (usable.length === 0) {
    throw new AppError(
      400,
      'model_not_supported',
      `'${asked ?? role}' has no model that supports ${capability}.`,
      { param: 'model' },
    );
  }
  return { role: role ?? 'direct', chain: usable };
}

/**
 * Caller-supplied names are looked up as own properties only: `constructor` or `__proto__` is
 * no role, never Object.prototype's.
 */
function isRole(registry: ModelsConfig, name: string): boolean {
  return Object.hasOwn(registry.roles, name);
}

function resolveModel(env: Env, registry: ModelsConfig, id: string): ResolvedModel {
  const model = registry.models.find((m) => m.id === id)!;
  const provider = registry.providers[model.provider]!;
  const baseFromEnv = provider.base_url_env ? env[provider.base_url_env] : undefined;
  const key = env[provider.api_key_env];
  const apiKey = typeof key === 'string' && key ? key : undefined;
  return {
    model,
    providerId: model.provider,
    provider,
    baseURL: typeof baseFromEnv === 'string' && baseFromEnv ? baseFromEnv : provider.base_url,
    apiKey,
    ...(apiKey || provider.api_key_optional
      ? {}
      : { unavailable: `no credential (${provider.api_key_env} is not set)` }),
  };
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  [extra: string]: unknown;
}

/**
 * `GET /v1/models`: OpenAI's list shape with every id a caller may put in `model`: registry ids
 * (owned by their provider), and each role both as `planning` and `role:planning` (owned by
 * `mas-role`, with the chain of model ids it routes to). A registry id that is also a role name
 * routes to the role, as resolveTarget does, so it is listed once, as the role.
 */
export function listModels(env: Env): { object: 'list'; data: ModelObject[] } {
  const registry = effectiveRegistry(env);
  const roleEntry = (id: string, chain: string[]): ModelObject => ({
    id,
    object: 'model',
    created: 0,
    owned_by: 'mas-role',
    chain,
  });
  return {
    object: 'list',
    data: [
      ...registry.models
        .filter((m) => !isRole(registry, m.id))
        .map(
          (m): ModelObject => ({
            id: m.id,
            object: 'model',
            created: 0,
            owned_by: m.provider,
            capabilities: m.capabilities,
            context_window: m.context_window,
            ...(m.dimension ? { dimension: m.dimension } : {}),
          }),
        ),
      ...Object.entries(registry.roles).flatMap(([role, chain]) => [
        roleEntry(role, chain),
        roleEntry(`${ROLE_PREFIX}${role}`, chain),
      ]),
    ],
  };
}

/** `GET /v1/models/{id}`: one entry of the list, or 404 as OpenAI answers an unknown model. */
export function retrieveModel(env: Env, id: string): ModelObject {
  const found = listModels(env).data.find((m) => m.id === id);
  if (!found) {
    throw new AppError(404, 'model_not_found', `The model '${id}' does not exist.`, { param: 'model' });
  }
  return found;
}
