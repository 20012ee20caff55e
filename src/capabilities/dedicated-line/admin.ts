import { randomUUID } from 'node:crypto';
import { ApiError } from '../../http/errors.ts';
import type { TenancyStore } from '../../tenancy/store.ts';
import type { LineController } from '../../../adapters/ports.ts';
import type { ApiRequest, OperationHandler } from '../types.ts';
import type { LineRegistration, LineStore } from './lines.ts';
import type { RequestStore } from './requests.ts';

/** Registers a line for a tenant, refusing a taken id or a service that already has a tenant. */
export async function registerLine(lines: LineStore, reg: LineRegistration): Promise<LineRegistration> {
  const outcome = await lines.register(reg);
  if (outcome === 'id-taken') throw new ApiError('ALREADY_EXISTS', `line ${reg.lineId} already exists`);
  if (outcome === 'service-taken') throw new ApiError('ALREADY_EXISTS', `service ${reg.serviceId} is already registered to a tenant`);
  return reg;
}

/** The operator's side of the dedicated line (openapi/admin-dedicated-line.yaml): which tenant owns which line. */
export function lineAdminHandlers(d: { lines: LineStore; requests: RequestStore; store: TenancyStore; controller: LineController }): Record<string, OperationHandler> {
  const owned = async (req: ApiRequest) => {
    await d.store.requireTenant(req.params.tenantId);
    const reg = await d.lines.get(req.params.lineId);
    if (!reg || reg.tenantId !== req.params.tenantId) throw new ApiError('NOT_FOUND', `tenant ${req.params.tenantId} has no line ${req.params.lineId}`);
    return reg;
  };
  return {
    async listTenantLines(req) {
      await d.store.requireTenant(req.params.tenantId);
      return { status: 200, body: await d.lines.ofTenant(req.params.tenantId) };
    },
    async registerLine(req: ApiRequest<{ lineId?: string; serviceId: string; name?: string }>) {
      await d.store.requireTenant(req.params.tenantId);
      const info = await d.controller.line(req.body.serviceId);
      if (!info) throw new ApiError('NOT_FOUND', `the service inventory has no service ${req.body.serviceId}`);
      const reg: LineRegistration = {
        lineId: req.body.lineId ?? `line-${randomUUID().slice(0, 8)}`,
        tenantId: req.params.tenantId,
        serviceId: req.body.serviceId,
        name: req.body.name ?? info.name,
        createdAt: new Date().toISOString(),
      };
      return { status: 201, body: await registerLine(d.lines, reg) };
    },
    async unregisterLine(req) {
      const reg = await owned(req);
      // Its requests would be left without a line: they must end (or be deleted) first.
      if ((await d.requests.activeIds(reg.lineId)).length > 0) throw new ApiError('CONFLICT', `line ${reg.lineId} has bandwidth requests that have not ended`);
      await d.lines.remove(reg);
      return { status: 204 };
    },
  };
}
