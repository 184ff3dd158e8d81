import type { Principal } from '../auth/api-keys.ts';
import type { GatewayConfig } from '../config/index.ts';
import { AppError } from '../errors/index.ts';

/** The namespace of config's shared collections; `*` is in no principal id, so none can own it. */
export const SHARED_NAMESPACE = '*shared';

/** A collection as stored: the caller-visible name inside its owner's namespace. */
export interface CollectionRef {
  namespace: string;
  name: string;
}

/**
 * Where a caller's collection name points. A name declared shared in config/gateway.yaml
 * (`vectors.shared`) is the one shared collection, open to the roles listed for the access (403
 * otherwise); every other name is the caller's own, so no principal can reach another's vectors.
 */
export function resolveCollection(
  principal: Principal,
  name: string,
  access: 'read' | 'write',
  shared: GatewayConfig['vectors']['shared'],
): CollectionRef {
  if (Object.hasOwn(shared, name)) {
    const roles = shared[name]![access];
    if (!roles.includes(principal.role)) {
      throw new AppError(
        403,
        'collection_forbidden',
        `Collection '${name}' is shared; role '${principal.role}' may not ${access === 'read' ? 'search' : 'upsert into'} it.`,
      );
    }
    return { namespace: SHARED_NAMESPACE, name };
  }
  return { namespace: principal.id, name };
}
