/**
 * Carries orders out, off the request path. Each line works on one order at a time, in arrival
 * order (a second bandwidth change must not overtake the first one on the same equipment):
 * acknowledged → (ack delay: feasibility) → rejected, or inProgress → (execution) → completed | failed.
 */
import { between, mulberry32, type Prng } from '../common/prng.ts';
import type { Line } from './lines.ts';
import type { LineModelOptions } from './options.ts';
import type { OrderFault, OrderRecord } from './orders.ts';
import type { OrderState } from './types.ts';

/** What the runner needs from the model. */
export interface RunnerHost {
  lineOf(serviceId: string): Line | undefined;
  /** Moves an order to `state` and reports the change. */
  moveOrder(record: OrderRecord, state: OrderState, text: string, fault?: OrderFault): void;
  /** The effect of a completed order: the line's bandwidth changes, and that is reported. */
  applyBandwidth(line: Line, mbps: number): void;
}

interface Current {
  record: OrderRecord;
  cancel: () => void;
}

/** Why a line cannot take `mbps` at all (TMF641: such an order is `rejected`, never worked on). */
function infeasibility(serviceId: string, line: Line | undefined, mbps: number): OrderFault | undefined {
  if (!line) return { code: 'SERVICE_NOT_FOUND', message: `the inventory has no service ${serviceId}` };
  if (mbps < line.committedMbps) {
    return { code: 'BANDWIDTH_BELOW_COMMITTED', message: `${mbps} Mbps is below the committed bandwidth of ${serviceId} (${line.committedMbps} Mbps)` };
  }
  if (mbps > line.portCapacityMbps) {
    return { code: 'BANDWIDTH_ABOVE_PORT_CAPACITY', message: `${mbps} Mbps exceeds the port capacity of ${serviceId} (${line.portCapacityMbps} Mbps)` };
  }
  return undefined;
}

/** Runs `fn` after `ms`; 0 means the next turn of the event loop. Returns the cancel. */
function after(ms: number, fn: () => void): () => void {
  if (ms <= 0) {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  }
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

export class OrderRunner {
  /** Orders waiting behind the current one, per service id. */
  private readonly waiting = new Map<string, OrderRecord[]>();
  private readonly current = new Map<string, Current>();
  private prng: Prng;

  constructor(
    private readonly host: RunnerHost,
    private readonly options: Readonly<LineModelOptions>,
  ) {
    this.prng = mulberry32(options.seed);
  }

  /** Queues an acknowledged order behind the others of its line. */
  submit(record: OrderRecord): void {
    const queue = this.waiting.get(record.serviceId) ?? [];
    queue.push(record);
    this.waiting.set(record.serviceId, queue);
    if (!this.current.has(record.serviceId)) this.startNext(record.serviceId);
  }

  /** The line went out of service: the order it is carrying out fails at once. */
  lineCut(serviceId: string): void {
    const current = this.current.get(serviceId);
    if (current?.record.order.state !== 'inProgress') return;
    current.cancel();
    this.finish(current.record, 'failed', 'Failed: the line went out of service during the change', {
      code: 'LINE_OUT_OF_SERVICE',
      message: `${serviceId} went out of service while its bandwidth was being changed`,
    });
  }

  /** The order a line is working on and those waiting, by id. */
  queueOf(serviceId: string): { current?: string; waiting: string[] } {
    const current = this.current.get(serviceId)?.record.order.id;
    return { ...(current ? { current } : {}), waiting: (this.waiting.get(serviceId) ?? []).map((r) => r.order.id) };
  }

  /** Stops every order where it is (close, reset) and restarts the random stream. */
  cancelAll(): void {
    for (const { cancel } of this.current.values()) cancel();
    this.current.clear();
    this.waiting.clear();
    this.prng = mulberry32(this.options.seed);
  }

  private startNext(serviceId: string): void {
    const queue = this.waiting.get(serviceId);
    const record = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(serviceId);
    if (!record) return;
    const { ackDelayMs, timeScale } = this.options;
    this.current.set(serviceId, { record, cancel: after(ackDelayMs * timeScale, () => this.assess(record)) });
  }

  /** The end of the ack delay: is the order feasible, and did the Control API set its outcome? */
  private assess(record: OrderRecord): void {
    const line = this.host.lineOf(record.serviceId);
    const fault = infeasibility(record.serviceId, line, record.bandwidthMbps);
    if (fault) return this.finish(record, 'rejected', `Rejected: ${fault.message}`, fault);
    const injected = line!.takeInjectedOutcome();
    if (injected === 'rejected') {
      return this.finish(record, 'rejected', 'Rejected by the OSS (injected)', { code: 'ORDER_REFUSED', message: 'the OSS refused the order (injected by the Control API)' });
    }
    this.host.moveOrder(record, 'inProgress', 'In progress: configuring both ends of the line');
    const { executionMinMs, executionMaxMs, timeScale } = this.options;
    const delay = between(this.prng, executionMinMs, executionMaxMs) * timeScale;
    this.current.set(record.serviceId, { record, cancel: after(delay, () => this.execute(record, injected === 'failed')) });
  }

  private execute(record: OrderRecord, injectedFailure: boolean): void {
    const line = this.host.lineOf(record.serviceId);
    if (!line || line.state !== 'active') {
      return this.finish(record, 'failed', 'Failed: the line is out of service', {
        code: 'LINE_OUT_OF_SERVICE',
        message: `${record.serviceId} is out of service (${line?.state ?? 'gone'}); its bandwidth cannot be changed`,
      });
    }
    if (injectedFailure) {
      return this.finish(record, 'failed', 'Failed: the network element refused the configuration (injected)', {
        code: 'CONFIGURATION_FAILED',
        message: 'the network element refused the new bandwidth (injected by the Control API)',
      });
    }
    this.host.applyBandwidth(line, record.bandwidthMbps);
    this.finish(record, 'completed', `Completed: ${record.serviceId} runs at ${record.bandwidthMbps} Mbps`);
  }

  private finish(record: OrderRecord, state: OrderState, text: string, fault?: OrderFault): void {
    this.current.delete(record.serviceId);
    this.host.moveOrder(record, state, text, fault);
    this.startNext(record.serviceId);
  }
}
