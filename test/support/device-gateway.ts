import type { AddressInfo } from 'node:net';
import { startSimulatedNetwork, type SimulatedNetwork } from '../../simulators/index.ts';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.ts';

/** A simulated network and a gateway driving it, listening on loopback so devices can reach it over a socket. */
export interface DeviceFacingGateway {
  net: SimulatedNetwork;
  gw: TestGateway;
  /** `http://127.0.0.1:<port>` of the gateway, for DeviceEmulator. */
  baseUrl: string;
  close(): Promise<void>;
}

/** For tests of device-facing flows (one-click login, OIDC network authentication): delays off, seed 7. */
export async function startDeviceFacingGateway(options: Omit<TestGatewayOptions, 'network'> = {}): Promise<DeviceFacingGateway> {
  const net = await startSimulatedNetwork({ timeScale: 0, seed: 7 });
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway({ ...options, network: net });
    const server = await gw.system.listen(0, '127.0.0.1');
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const started = gw;
    return {
      net,
      gw: started,
      baseUrl,
      async close() {
        await started.close();
        await net.close();
      },
    };
  } catch (err) {
    await gw?.close().catch(() => {});
    await net.close();
    throw err;
  }
}
