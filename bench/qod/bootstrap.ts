import type { BootstrapDocument } from '../../src/tenancy/bootstrap.ts';
import type { QodBootstrap } from '../../src/capabilities/qod/index.ts';

/** The application the benchmark calls the gateway as. */
export const BENCH_CLIENT = { clientId: 'bench-app', secret: 'bench-secret-0123456789abcdef' } as const;

/**
 * A best-effort profile (non-GBR 5QI 9). The default profiles are GBR, and the simulated cells
 * admit only a few hundred GBR flows in all; a non-GBR flow is always admitted, so every session
 * of the run can become AVAILABLE (still at most 11 per UE).
 */
export const BENCH_PROFILE = 'QOS_BENCH';

/** Subscribers +8613900000000..+8613900008999 have a plan with QoS (the rest are IoT). */
export const ELIGIBLE_SUBSCRIBERS = 9000;
/** The simulated network admits at most this many flows per UE. */
export const MAX_FLOWS_PER_UE = 11;

export const phoneOf = (i: number): string => `+86139000${String(i).padStart(5, '0')}`;

/**
 * The gateway's configuration for benchmarks: one tenant, one application whose plan never limits
 * (rate and concurrent sessions far above what a run reaches), and the bench profile.
 */
export function benchBootstrap(qod: QodBootstrap = {}): BootstrapDocument {
  const doc: BootstrapDocument & { qualityOnDemand: QodBootstrap } = {
    capabilities: ['quality-on-demand'],
    plans: { unlimited: { rateLimit: { requests: 10_000_000, windowSeconds: 1 }, maxConcurrentResources: 10_000_000 } },
    tenants: [
      {
        id: 'bench',
        name: 'Benchmark',
        applications: [
          {
            clientId: BENCH_CLIENT.clientId,
            name: 'Benchmark client',
            clientSecret: BENCH_CLIENT.secret,
            notificationHosts: ['127.0.0.1'],
            subscriptions: [{ capability: 'quality-on-demand', plan: 'unlimited' }],
          },
        ],
      },
    ],
    qualityOnDemand: {
      ...qod,
      qosProfiles: [
        {
          name: BENCH_PROFILE,
          description: 'Best-effort boost up to 10 Mbps (non-GBR), for benchmarks',
          status: 'ACTIVE',
          maxUpstreamRate: { value: 10, unit: 'Mbps' },
          maxDownstreamRate: { value: 10, unit: 'Mbps' },
          minDuration: { value: 1, unit: 'Seconds' },
          maxDuration: { value: 24, unit: 'Hours' },
          network: { qosReference: '5qi-9', fiveQi: 9, mbrUl: '10 Mbps', mbrDl: '10 Mbps', arp: { priorityLevel: 8, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
        },
      ],
    },
  };
  return doc;
}

/** A createSession body: subscriber `ue`, the application server's port telling sessions of one UE apart. */
export function createBody(ue: number, port: number, sink: string): Record<string, unknown> {
  return {
    device: { phoneNumber: phoneOf(ue) },
    applicationServer: { ipv4Address: '198.51.100.10' },
    applicationServerPorts: { ports: [port] },
    qosProfile: BENCH_PROFILE,
    duration: 3600,
    sink,
  };
}
