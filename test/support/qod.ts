/**
 * Quality on Demand test fixtures: a simulated network, a gateway driving it, a sink, and the
 * subscribers of the simulated population. Shared by the QoD end-to-end and fault tests.
 */
import { startSimulatedNetwork, type SimulatedNetwork } from '../../simulators/index.ts';
import { startTestGateway, testBootstrap, type TestGateway } from './gateway.ts';
import { TestSink } from './sink.ts';
import type { BootstrapDocument } from '../../src/tenancy/bootstrap.ts';

export const QOD = '/quality-on-demand/v1';
/** Subscriber i of the simulated network (in cell `cell-${i % 20}`). */
export const phone = (i: number) => `+86139000${String(i).padStart(5, '0')}`;
export const ueIp = (i: number) => `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;

export function qodBootstrap(extra: Partial<BootstrapDocument> & Record<string, unknown> = {}): BootstrapDocument {
  return {
    ...testBootstrap({ capabilities: ['echo', 'quality-on-demand'] }),
    qualityOnDemand: {
      requestedTimeoutSeconds: 20,
      qosProfiles: [
        {
          name: 'QOS_SHORT',
          status: 'ACTIVE',
          minDuration: { value: 1, unit: 'Seconds' },
          maxDuration: { value: 10, unit: 'Seconds' },
          network: { qosReference: 'QOS_E', fiveQi: 3, gbrUl: '500 Kbps', gbrDl: '500 Kbps', mbrUl: '500 Kbps', mbrDl: '500 Kbps', arp: { priorityLevel: 6, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
        },
        { name: 'QOS_OFF', status: 'INACTIVE', network: { qosReference: 'QOS_E', fiveQi: 3, mbrUl: '1 Mbps', mbrDl: '1 Mbps', arp: { priorityLevel: 6, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } } },
      ],
    },
    ...extra,
  } as BootstrapDocument;
}

export interface QodFixture {
  net: SimulatedNetwork;
  gw: TestGateway;
  sink: TestSink;
  token: string;
}

/** A simulated network (every delay × `timeScale`), a gateway driving it, and a sink. */
export async function startQod(options: { bootstrap?: BootstrapDocument; timeScale?: number } = {}): Promise<QodFixture> {
  const net = await startSimulatedNetwork({ timeScale: options.timeScale ?? 0.01, seed: 7 });
  const gw = await startTestGateway({ bootstrap: options.bootstrap ?? qodBootstrap(), network: net });
  const sink = await new TestSink().start();
  return { net, gw, sink, token: await gw.token() };
}

export async function stopQod(f: QodFixture | undefined): Promise<void> {
  await f?.gw.close();
  await f?.sink.close();
  await f?.net.close();
}

/** A create body for subscriber i, with a sink; the server and ports keep different calls apart. */
export function createBody(i: number, sink: TestSink, overrides: Record<string, unknown> = {}) {
  return {
    device: { phoneNumber: phone(i) },
    applicationServer: { ipv4Address: '198.51.100.10' },
    applicationServerPorts: { ports: [443] },
    qosProfile: 'QOS_S',
    duration: 60,
    sink: sink.url,
    ...overrides,
  };
}

export { until } from './wait.ts';
