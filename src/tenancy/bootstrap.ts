import type { JSONWebKeySet } from 'jose';
import { ApiError } from '../http/errors.ts';
import { checkRedirectUris, type TenancyStore } from './store.ts';
import { DEFAULT_PLAN, type Plan } from './types.ts';

/** The demo client secret; refused in production so a copied demo config never goes live. */
export const DEMO_SECRET = 'demo-secret-change-me';

/** The bootstrap YAML (`GATEWAY_CONFIG`): what must exist when the gateway starts. */
export interface BootstrapDocument {
  /** Capabilities to run, by id. @defaultValue every capability the gateway ships */
  capabilities?: string[];
  /** Named plans that subscriptions refer to. */
  plans?: Record<string, Plan>;
  tenants?: Array<{
    id: string;
    name: string;
    applications?: Array<{
      clientId: string;
      name: string;
      clientSecret?: string;
      jwks?: JSONWebKeySet;
      jwksUri?: string;
      notificationHosts?: string[];
      /** The client's token endpoint and our client id there, for PRIVATE_KEY_JWT sink credentials. */
      sinkTokenEndpoint?: string;
      sinkClientId?: string;
      /** Redirection endpoints of the OIDC authorization code flow (exact match; https in production). */
      redirectUris?: string[];
      /** `capability: '*'` subscribes to every capability in the catalog. */
      subscriptions?: Array<{ capability: string; plan?: string | Plan }>;
    }>;
  }>;
}

export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

export interface BootstrapResult {
  tenantsCreated: number;
  applicationsCreated: number;
  subscriptionsCreated: number;
}

async function createOrKeep<T>(create: () => Promise<T>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ALREADY_EXISTS') return false;
    throw err;
  }
}

/**
 * Creates what the bootstrap document names and does not exist yet. Idempotent: a restart creates
 * nothing twice and changes nothing that exists (secrets and plans changed through the operator API
 * stay as they are).
 */
export async function applyBootstrap(
  store: TenancyStore,
  doc: BootstrapDocument,
  catalog: readonly string[],
  options: { production: boolean },
): Promise<BootstrapResult> {
  const result: BootstrapResult = { tenantsCreated: 0, applicationsCreated: 0, subscriptionsCreated: 0 };
  const plans = doc.plans ?? {};
  const resolvePlan = (plan: string | Plan | undefined, where: string): Plan => {
    if (plan === undefined) return DEFAULT_PLAN;
    if (typeof plan !== 'string') return plan;
    const named = plans[plan];
    if (!named) throw new BootstrapError(`${where}: plan "${plan}" is not defined under plans`);
    return named;
  };
  for (const tenant of doc.tenants ?? []) {
    if (!tenant?.id || !tenant.name) throw new BootstrapError('every tenant needs an id and a name');
    if (await createOrKeep(() => store.createTenant({ id: tenant.id, name: tenant.name }))) result.tenantsCreated++;
    for (const app of tenant.applications ?? []) {
      const where = `tenant ${tenant.id}, application ${app?.clientId}`;
      if (!app?.clientId || !app.name) throw new BootstrapError(`${where}: clientId and name are required`);
      if (options.production && app.clientSecret === DEMO_SECRET) {
        throw new BootstrapError(`${where}: the demo client secret is refused when NODE_ENV=production; set DEMO_CLIENT_SECRET or remove the demo tenant`);
      }
      if (app.redirectUris !== undefined) {
        if (!Array.isArray(app.redirectUris)) throw new BootstrapError(`${where}: redirectUris must be a list`);
        try {
          checkRedirectUris(app.redirectUris, options);
        } catch (err) {
          throw new BootstrapError(`${where}: ${(err as Error).message}`);
        }
      }
      const created = await createOrKeep(() =>
        store.createApplication(tenant.id, {
          clientId: app.clientId,
          name: app.name,
          secret: app.clientSecret ?? false,
          jwks: app.jwks,
          jwksUri: app.jwksUri,
          notificationHosts: app.notificationHosts,
          sinkTokenEndpoint: app.sinkTokenEndpoint,
          sinkClientId: app.sinkClientId,
          redirectUris: app.redirectUris,
        }),
      );
      if (created) result.applicationsCreated++;
      for (const sub of app.subscriptions ?? []) {
        const plan = resolvePlan(sub.plan, where);
        const targets = sub.capability === '*' ? catalog : [sub.capability];
        for (const capability of targets) {
          if (!catalog.includes(capability)) throw new BootstrapError(`${where}: capability "${capability}" is not in the catalog`);
          if (await store.ensureSubscription(app.clientId, capability, plan)) result.subscriptionsCreated++;
        }
      }
    }
  }
  return result;
}
