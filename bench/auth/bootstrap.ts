import type { BootstrapDocument } from '../../src/tenancy/bootstrap.ts';

export const AUTH_CLIENT = { clientId: 'bench-login-app', secret: 'bench-login-secret-0123456789' } as const;
/** UEs of the simulated network a run's devices are (indexes below 9000 have a data session and a standard plan). */
export const DEVICES = 9000;
/** The address of UE i on the data path (simulators/bearer-controller/population.ts). */
export const ueAddress = (i: number): string => `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/**
 * One application subscribed to one-click login on a plan that never limits, and per-address and
 * per-number limits far above what a run reaches: the benchmark measures the path, not the limits
 * (which tests cover). Tokens live the longest allowed, so the pool issued before the exchange
 * step is still valid when it is spent.
 */
export function authBootstrap(): BootstrapDocument {
  return {
    capabilities: ['one-click-login'],
    plans: { unlimited: { rateLimit: { requests: 10_000_000, windowSeconds: 1 } } },
    tenants: [
      {
        id: 'bench',
        name: 'Benchmark',
        applications: [
          {
            clientId: AUTH_CLIENT.clientId,
            name: 'Benchmark login app',
            clientSecret: AUTH_CLIENT.secret,
            subscriptions: [{ capability: 'one-click-login', plan: 'unlimited' }],
          },
        ],
      },
    ],
    oneClickLogin: {
      tokenTtlSeconds: 300,
      addressRate: { requests: 10_000_000, windowSeconds: 1 },
      unusedTokensPerNumber: { max: 10_000_000, windowSeconds: 600 },
    },
  } as BootstrapDocument;
}
