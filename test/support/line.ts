/**
 * Dedicated line test fixtures: the simulated network (its line controller speaks TMF638/TMF641),
 * a gateway driving it, a sink, and lines made for each test so tests never share a calendar.
 */
import { randomUUID } from 'node:crypto';
import { startSimulatedNetwork, type SimulatedNetwork } from '../../simulators/index.ts';
import { ADMIN_TOKEN, startTestGateway, testBootstrap, type TestGateway } from './gateway.ts';
import { TestSink } from './sink.ts';
import type { BootstrapDocument } from '../../src/tenancy/bootstrap.ts';

export const DL = '/dedicated-line/v1';
export const DL_ADMIN = '/admin/v1/dedicated-line';

/** acme and globex subscribed to the dedicated line, with short minimum durations so tests can watch requests end. */
export function lineBootstrap(limits: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): BootstrapDocument {
  return {
    ...testBootstrap({ capabilities: ['echo', 'dedicated-line'] }),
    plans: {
      test: {
        rateLimit: { requests: 10_000, windowSeconds: 1 },
        maxConcurrentResources: 100,
        limits: { minRequestDurationSeconds: 1, maxRequestDurationSeconds: 3600, bookingHorizonDays: 30, ...limits },
      },
    },
    dedicatedLine: { syncAttempts: 3, syncBackoffMs: 100, ...extra },
  } as BootstrapDocument;
}

export interface LineFixture {
  net: SimulatedNetwork;
  gw: TestGateway;
  sink: TestSink;
  token: string;
}

export async function startLines(options: { bootstrap?: BootstrapDocument; timeScale?: number } = {}): Promise<LineFixture> {
  const net = await startSimulatedNetwork({ timeScale: options.timeScale ?? 0.01, seed: 11 });
  const gw = await startTestGateway({ bootstrap: options.bootstrap ?? lineBootstrap(), network: net });
  const sink = await new TestSink().start();
  return { net, gw, sink, token: await gw.token() };
}

export async function stopLines(f: LineFixture | undefined): Promise<void> {
  await f?.gw.close();
  await f?.sink.close();
  await f?.net.close();
}

/** A new line in the simulated inventory, registered to a tenant; returns the tenant's line id and the service id. */
export async function newLine(
  f: { net: Pick<SimulatedNetwork, 'lineControl'>; gw: Pick<TestGateway, 'http'> },
  options: { tenant?: string; committedMbps?: number; portCapacityMbps?: number } = {},
): Promise<{ lineId: string; serviceId: string }> {
  const serviceId = `T-${randomUUID().slice(0, 8)}`;
  await f.net.lineControl('lines', {
    id: serviceId,
    name: `Test line ${serviceId}`,
    aEnd: { siteName: 'Cloud DC', address: '1 Data Road' },
    zEnd: { siteName: 'Tax hub', address: '9 Filing Street' },
    committedMbps: options.committedMbps ?? 100,
    portCapacityMbps: options.portCapacityMbps ?? 1000,
  });
  const lineId = `l-${serviceId.toLowerCase()}`;
  const res = await f.gw.http
    .post(`${DL_ADMIN}/tenants/${options.tenant ?? 'acme'}/lines`)
    .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ lineId, serviceId });
  if (res.status !== 201) throw new Error(`line registration failed: ${res.status} ${res.text}`);
  return { lineId, serviceId };
}

/** What the simulated inventory says of a line now (TMF638). */
export async function inventory(net: Pick<SimulatedNetwork, 'lineControllerUrl'>, serviceId: string): Promise<{ state: string; bandwidth: number }> {
  const res = await fetch(`${net.lineControllerUrl}/tmf-api/serviceInventory/v4/service/${serviceId}`);
  const body = (await res.json()) as { state: string; serviceCharacteristic: Array<{ name: string; value: unknown }> };
  return { state: body.state, bandwidth: Number(body.serviceCharacteristic.find((c) => c.name === 'bandwidth')?.value) };
}

/** The orders the simulated OSS received for a line (TMF641). */
export async function ordersOf(net: Pick<SimulatedNetwork, 'lineControllerUrl'>, serviceId: string): Promise<Array<{ id: string; state: string; orderDate: string; value: number }>> {
  const res = await fetch(`${net.lineControllerUrl}/tmf-api/serviceOrdering/v4/serviceOrder`);
  const all = (await res.json()) as Array<{ id: string; state: string; orderDate: string; serviceOrderItem: Array<{ service: { id: string; serviceCharacteristic: Array<{ value: unknown }> } }> }>;
  return all
    .filter((o) => o.serviceOrderItem.some((i) => i.service.id === serviceId))
    .map((o) => ({ id: o.id, state: o.state, orderDate: o.orderDate, value: Number(o.serviceOrderItem[0].service.serviceCharacteristic[0].value) }));
}

export { until } from './wait.ts';
