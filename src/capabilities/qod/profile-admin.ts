import { ApiError } from '../../http/errors.ts';
import type { ApiRequest, OperationHandler } from '../types.ts';
import type { ProfileStore, QosProfileConfig } from './profiles.ts';

/** The operator's QoS profile catalogue (openapi/admin-quality-on-demand.yaml). */
export function profileAdminHandlers(profiles: ProfileStore): Record<string, OperationHandler> {
  const find = async (name: string) => {
    const p = await profiles.get(name);
    if (!p) throw new ApiError('NOT_FOUND', `no QoS profile named ${name}`);
    return p;
  };
  return {
    listQosProfileConfigs: async () => ({ status: 200, body: [...(await profiles.all()).values()].sort((a, b) => a.name.localeCompare(b.name)) }),
    getQosProfileConfig: async (req) => ({ status: 200, body: await find(req.params.name) }),
    putQosProfileConfig: async (req: ApiRequest<Omit<QosProfileConfig, 'name'>>) => {
      const profile: QosProfileConfig = { ...req.body, name: req.params.name };
      const { gbrUl, gbrDl, mbrUl, mbrDl } = profile.network;
      const bps = (r?: string) => (r ? Number(r.split(' ')[0]) * { bps: 1, Kbps: 1e3, Mbps: 1e6, Gbps: 1e9, Tbps: 1e12 }[r.split(' ')[1] as 'bps'] : 0);
      if (bps(gbrUl) > bps(mbrUl) || bps(gbrDl) > bps(mbrDl)) throw new ApiError('INVALID_ARGUMENT', 'a guaranteed bit rate cannot exceed the maximum bit rate');
      await profiles.put(profile);
      return { status: 200, body: profile };
    },
    deleteQosProfileConfig: async (req) => {
      await find(req.params.name);
      await profiles.remove(req.params.name);
      return { status: 204 };
    },
  };
}
