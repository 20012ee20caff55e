import type { ApiDefinition, ApiRequest, OperationHandler, Reply } from '../capabilities/types.ts';
import type { CatalogEntry } from '../capabilities/catalog.ts';
import { checkRedirectUris, type TenancyStore } from '../tenancy/store.ts';
import type { Plan, Status } from '../tenancy/types.ts';
import type { Keyring } from '../auth/keyring.ts';
import type { Notifier } from '../notify/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { ApiError } from '../http/errors.ts';
import { fileURLToPath } from 'node:url';

export const ADMIN_DOCUMENT = fileURLToPath(new URL('../../openapi/admin.yaml', import.meta.url));

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** The operator API (`openapi/admin.yaml`). `production` tightens what redirect URIs may be registered. */
export function adminApi(deps: { store: TenancyStore; keyring: Keyring; catalog: () => CatalogEntry[]; notifier?: Notifier; audit?: AuditLog; production?: boolean }): ApiDefinition {
  const { store, keyring } = deps;
  const redirectUris = (uris: string[] | undefined) => {
    if (uris !== undefined) checkRedirectUris(uris, { production: deps.production ?? false });
  };
  const known = (capability: string) => {
    if (!deps.catalog().some((c) => c.id === capability)) throw new ApiError('NOT_FOUND', `no capability ${capability} in the catalog`);
  };
  const app = (req: ApiRequest) => store.requireApplication(req.params.tenantId, req.params.clientId);
  const subscription = async (req: ApiRequest) => {
    await app(req);
    const sub = await store.getSubscription(req.params.clientId, req.params.capability);
    if (!sub) throw new ApiError('NOT_FOUND', `application ${req.params.clientId} has no subscription to ${req.params.capability}`);
    return sub;
  };
  const setSubscriptionStatus = (status: Status): OperationHandler => async (req) => {
    const sub = await subscription(req);
    return ok(await store.putSubscription(sub.clientId, sub.capability, sub.plan, status));
  };

  const handlers: Record<string, OperationHandler> = {
    listCapabilities: () => ok(deps.catalog()),
    listTenants: async () => ok(await store.listTenants()),
    createTenant: async (req: ApiRequest<{ id: string; name: string }>) => ok(await store.createTenant(req.body), 201),
    getTenant: async (req) => ok(await store.requireTenant(req.params.tenantId)),
    suspendTenant: async (req) => ok(await store.setTenantStatus(req.params.tenantId, 'SUSPENDED')),
    resumeTenant: async (req) => ok(await store.setTenantStatus(req.params.tenantId, 'ACTIVE')),
    listApplications: async (req) => ok(await store.listApplications(req.params.tenantId)),
    createApplication: async (
      req: ApiRequest<{ clientId?: string; name: string; jwks?: never; jwksUri?: string; notificationHosts?: string[]; sinkTokenEndpoint?: string; sinkClientId?: string; redirectUris?: string[]; clientSecret?: boolean }>,
    ) => {
      const { clientSecret: wantSecret, ...rest } = req.body;
      redirectUris(rest.redirectUris);
      const { application, clientSecret } = await store.createApplication(req.params.tenantId, { ...rest, secret: wantSecret ?? true });
      return ok({ ...application, ...(clientSecret ? { clientSecret } : {}) }, 201);
    },
    getApplication: async (req) => ok(await app(req)),
    updateApplication: async (req: ApiRequest<{ redirectUris?: string[] }>) => {
      redirectUris(req.body.redirectUris);
      return ok(await store.updateApplication(req.params.tenantId, req.params.clientId, req.body as never));
    },
    deleteApplication: async (req) => {
      await store.deleteApplication(req.params.tenantId, req.params.clientId);
      return { status: 204 };
    },
    suspendApplication: async (req) => ok(await store.setApplicationStatus(req.params.tenantId, req.params.clientId, 'SUSPENDED')),
    resumeApplication: async (req) => ok(await store.setApplicationStatus(req.params.tenantId, req.params.clientId, 'ACTIVE')),
    rotateApplicationSecret: async (req) =>
      ok({ clientId: req.params.clientId, clientSecret: await store.rotateSecret(req.params.tenantId, req.params.clientId) }),
    listAuditEntries: async (req) => {
      await store.requireTenant(req.params.tenantId);
      return ok((await deps.audit?.list(req.params.tenantId, { count: Number(req.query.count ?? 100) })) ?? []);
    },
    getApplicationUsage: async (req) => {
      await app(req);
      return ok(await store.getUsage(req.params.clientId, Number(req.query.days ?? 7)));
    },
    listSubscriptions: async (req) => {
      await app(req);
      return ok(await store.listSubscriptions(req.params.clientId));
    },
    putSubscription: async (req: ApiRequest<{ plan: Plan }>) => {
      await app(req);
      known(req.params.capability);
      const existing = await store.getSubscription(req.params.clientId, req.params.capability);
      return ok(await store.putSubscription(req.params.clientId, req.params.capability, req.body.plan, existing?.status ?? 'ACTIVE'));
    },
    getSubscription: async (req) => ok(await subscription(req)),
    deleteSubscription: async (req) => {
      await subscription(req);
      await store.deleteSubscription(req.params.clientId, req.params.capability);
      return { status: 204 };
    },
    suspendSubscription: setSubscriptionStatus('SUSPENDED'),
    resumeSubscription: setSubscriptionStatus('ACTIVE'),
    listSigningKeys: async () => ok((await keyring.jwks()).keys.map((k) => ({ kid: k.kid, alg: k.alg }))),
    rotateSigningKey: async () => ok({ kid: await keyring.rotate() }),
    listDeadLetters: async (req) =>
      ok((await deps.notifier?.deadLetters({ clientId: req.query.clientId as string | undefined, limit: Number(req.query.limit ?? 100) })) ?? []),
    retryDeadLetter: async (req) => {
      if (!(await deps.notifier?.retryDeadLetter(req.params.deadLetterId))) throw new ApiError('NOT_FOUND', `no dead letter ${req.params.deadLetterId}`);
      return { status: 202 };
    },
    dropDeadLetter: async (req) => {
      if (!(await deps.notifier?.dropDeadLetter(req.params.deadLetterId))) throw new ApiError('NOT_FOUND', `no dead letter ${req.params.deadLetterId}`);
      return { status: 204 };
    },
  };
  return { document: ADMIN_DOCUMENT, handlers };
}
