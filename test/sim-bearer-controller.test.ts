import assert from 'node:assert/strict';
import {
  startBearerController,
  type Arp,
  type Bearer,
  type BearerController,
  type BearerEvent,
  type BearerRequest,
  type SimView,
  type SubscriberView,
} from '../simulators/bearer-controller/index.ts';
import { call, EventReceiver, exitCodeOf, startSimulatorProgram, type Answer } from './support/sim-http.ts';

const MBPS = 1_000_000;
const msisdn = (i: number) => `+861390000${String(i).padStart(4, '0')}`;
const ipv4 = (i: number) => `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const ARP: Arp = { priorityLevel: 9, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' };

/** A local HTTP server receiving the controller's notifications; it can refuse the first few. */
class Receiver extends EventReceiver<BearerEvent> {
  static async start(): Promise<Receiver> {
    return new Receiver((e) => e.bearerId, '/bearer-events').start();
  }

  /** The first event of `bearerId` (of kind `event` if given), waiting for it if needed. */
  async next(bearerId: string, event?: string, ms = 10_000): Promise<BearerEvent> {
    const found = await this.waitUntil((events) => events.find((e) => e.bearerId === bearerId && (!event || e.event === event)), (e) => e !== undefined, ms);
    return found!;
  }

  of(bearerId: string): BearerEvent[] {
    return this.events.filter((e) => e.bearerId === bearerId);
  }
}

function expectProblem(answer: Answer, status: number, cause: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.type, 'application/problem+json');
  assert.equal(answer.body.status, status);
  assert.equal(answer.body.cause, cause);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
}

describe('bearer controller simulator', function () {
  this.timeout(30_000);
  let ctl: BearerController;
  let receiver: Receiver;
  const logs: string[] = [];
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(ctl.url, method, path, body);

  const gbr = (ue: number, dlMbps: number, arp: Partial<Arp> = {}, ulMbps = 1): BearerRequest => ({
    ueIpv4: ipv4(ue),
    fiveQi: 3,
    gbrUl: ulMbps * MBPS,
    gbrDl: dlMbps * MBPS,
    mbrUl: ulMbps * MBPS,
    mbrDl: dlMbps * MBPS,
    arp: { ...ARP, ...arp },
    flowDescriptions: [`permit out 17 from 198.51.100.7 5004 to ${ipv4(ue)} 5004`],
    notifyUrl: receiver.url,
  });
  const nonGbr = (ue: number): BearerRequest => ({ ...gbr(ue, 0), fiveQi: 9, gbrUl: undefined, gbrDl: undefined, mbrDl: 500 * MBPS });

  /** POSTs a bearer and waits for its outcome. */
  async function request(body: BearerRequest): Promise<{ bearerId: string; outcome: BearerEvent }> {
    const answer = await api<{ bearerId: string; state: string }>('POST', '/bearers', body);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.state, 'PENDING');
    return { bearerId: answer.body.bearerId, outcome: await receiver.next(answer.body.bearerId) };
  }
  async function established(body: BearerRequest): Promise<string> {
    const { bearerId, outcome } = await request(body);
    assert.equal(outcome.event, 'ESTABLISHED', JSON.stringify(outcome));
    return bearerId;
  }
  const bearer = async (id: string) => (await api<Bearer>('GET', `/bearers/${id}`)).body;
  const rrc = (ue: number, state: string) => api('POST', `/control/ues/${encodeURIComponent(msisdn(ue))}/rrc`, { state });
  const cellLoad = async (cellId: string) =>
    ((await api<{ cells: Array<{ cellId: string; load: Record<string, number> }> }>('GET', '/control/state')).body.cells.find((c) => c.cellId === cellId)!).load;

  before(async () => {
    receiver = await Receiver.start();
    ctl = await startBearerController({ port: 0, seed: 1, timeScale: 0.01, notifyRetryDelayMs: 20, log: (msg) => logs.push(msg) });
  });
  beforeEach(async () => {
    assert.equal((await api('POST', '/control/reset')).status, 200);
    receiver.clear();
  });
  after(async () => {
    await ctl?.close();
    await ctl?.close();
    await receiver?.close();
    assert.deepEqual(logs.filter((l) => l === 'request failed'), [], 'no request hit a bug');
  });

  describe('Subscriber API', () => {
    it('derives a known subscriber from its number, URL-encoded or not', async () => {
      const answer = await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent('+8613900001234')}`);
      assert.equal(answer.status, 200);
      assert.equal(answer.type, 'application/json');
      const { rrcState, ...rest } = answer.body;
      assert.deepEqual(rest, {
        msisdn: '+8613900001234',
        imsi: '460000000001234',
        ipv4: '10.45.4.235',
        plan: 'STANDARD',
        qosEligible: true,
        attached: true,
        cellId: 'cell-14',
      });
      assert.ok(rrcState === 'IDLE' || rrcState === 'CONNECTED');
      assert.deepEqual((await api('GET', '/subscribers/+8613900001234')).body, answer.body);
    });

    it('answers 404 for numbers outside the population', async () => {
      for (const number of ['+33612345678', '+8613900010000', '8613900000001', '+86139000000001']) {
        expectProblem(await api('GET', `/subscribers/${encodeURIComponent(number)}`), 404, 'SUBSCRIBER_NOT_FOUND');
      }
    });

    it('gives IoT subscribers (index ≥ 9000) no QoS', async () => {
      const iot = (await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(9000))}`)).body;
      assert.equal(iot.plan, 'IOT');
      assert.equal(iot.qosEligible, false);
      assert.equal(iot.ipv4, '10.45.36.1');
      assert.equal((await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(8999))}`)).body.plan, 'STANDARD');
    });

    it('looks a subscriber up by UE address, and answers 404 for others', async () => {
      const found = await api<SubscriberView>('GET', '/subscribers?ipv4=10.45.0.1');
      assert.equal(found.status, 200);
      assert.equal(found.body.msisdn, '+8613900000000');
      assert.equal((await api<SubscriberView>('GET', '/subscribers?ipv4=10.45.39.250')).body.msisdn, '+8613900009999');
      for (const address of ['10.45.40.1', '10.45.0.0', '10.45.0.251', '10.45.00.1', '192.0.2.1', 'nonsense']) {
        expectProblem(await api('GET', `/subscribers?ipv4=${address}`), 404, 'SUBSCRIBER_NOT_FOUND');
      }
      expectProblem(await api('GET', '/subscribers'), 400, 'INVALID_REQUEST');
    });

    it('shows a detached UE without an address until it attaches again', async () => {
      const detached = await api<SubscriberView>('POST', `/control/ues/${encodeURIComponent(msisdn(77))}/detach`);
      assert.equal(detached.status, 200);
      assert.equal(detached.body.attached, false);
      assert.equal(detached.body.ipv4, undefined);
      assert.equal((await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(77))}`)).body.attached, false);
      expectProblem(await api('GET', `/subscribers?ipv4=${ipv4(77)}`), 404, 'SUBSCRIBER_NOT_FOUND');
      const attached = await api<SubscriberView>('POST', `/control/ues/${encodeURIComponent(msisdn(77))}/attach`);
      assert.equal(attached.body.ipv4, ipv4(77));
      assert.equal(attached.body.rrcState, 'CONNECTED');
      assert.equal((await api<SubscriberView>('GET', `/subscribers?ipv4=${ipv4(77)}`)).body.msisdn, msisdn(77));
    });

    it('starts about 30% of the population CONNECTED, from the seed', () => {
      let connected = 0;
      for (let i = 0; i < 10_000; i++) if (ctl.model.subscriber(msisdn(i)).rrcState === 'CONNECTED') connected++;
      assert.ok(connected > 2700 && connected < 3300, `${connected} of 10000 connected`);
    });
  });

  describe('SIM history', () => {
    type Sim = SimView & Record<string, unknown>;
    const sim = (ue: number) => api<Sim>('GET', `/subscribers/${encodeURIComponent(msisdn(ue))}/sim`);
    const swap = (ue: number, body?: unknown) => api<Sim>('POST', `/control/ues/${encodeURIComponent(msisdn(ue))}/sim-swap`, body);
    const YEAR_MS = 365 * 86_400_000;

    it('gives every number a first SIM activated 1 to 3 years before the start, the same for the same seed', async () => {
      const first = await sim(5);
      assert.equal(first.status, 200);
      assert.equal(first.type, 'application/json');
      const { latestSimChange, ...rest } = first.body;
      assert.deepEqual(rest, { msisdn: msisdn(5), imsi: '460000000000005', swapped: false });
      const age = ctl.model.startedAt - Date.parse(latestSimChange);
      assert.ok(age >= YEAR_MS && age <= 3 * YEAR_MS, latestSimChange);
      assert.equal(Date.parse(latestSimChange) % 1000, 0, 'to the second');
      const dates = new Set(Array.from({ length: 50 }, (_, i) => ctl.model.sim(msisdn(i)).latestSimChange));
      assert.ok(dates.size > 45, 'dates differ between numbers');
      const again = await startBearerController({ seed: 1, timeScale: 0 });
      const other = await startBearerController({ seed: 2, timeScale: 0 });
      try {
        const ageIn = (c: BearerController, ue: number) => c.model.startedAt - Date.parse(c.model.sim(msisdn(ue)).latestSimChange);
        for (const ue of [0, 5, 9999]) assert.equal(ageIn(again, ue), ageIn(ctl, ue));
        assert.notDeepEqual([0, 5, 9999].map((ue) => ageIn(other, ue)), [0, 5, 9999].map((ue) => ageIn(ctl, ue)));
      } finally {
        await again.close();
        await other.close();
      }
      expectProblem(await api('GET', `/subscribers/${encodeURIComponent('+8613800000000')}/sim`), 404, 'SUBSCRIBER_NOT_FOUND');
    });

    it('swaps a SIM now or at a past date: a new IMSI, the UE still attached; reset forgets it', async () => {
      const before = Date.now();
      const now = await swap(40);
      assert.equal(now.status, 200, JSON.stringify(now.body));
      assert.equal(now.body.swapped, true);
      assert.equal(now.body.imsi, '460000000010040');
      assert.ok(Date.parse(now.body.latestSimChange) >= before && Date.parse(now.body.latestSimChange) <= Date.now());
      assert.deepEqual((await sim(40)).body, now.body);

      const yesterday = new Date(Date.now() - 86_400_000).toISOString();
      const past = await swap(41, { at: yesterday });
      assert.deepEqual(past.body, { msisdn: msisdn(41), imsi: '460000000010041', latestSimChange: yesterday, swapped: true });
      // Before the current SIM's pairing: a history does not go backwards.
      expectProblem(await swap(41, { at: new Date(Date.now() - 2 * 86_400_000).toISOString() }), 400, 'INVALID_REQUEST');
      const again = await swap(41, {});
      assert.equal(again.body.imsi, '460000000020041', 'every SIM has its own IMSI');

      const subscriber = (await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(41))}`)).body;
      assert.equal(subscriber.imsi, '460000000020041');
      assert.equal(subscriber.attached, true);
      assert.equal(subscriber.ipv4, ipv4(41));
      const state = (await api<{ ues: Array<SubscriberView & { swapped: boolean; latestSimChange: string }> }>('GET', '/control/state')).body;
      assert.deepEqual(
        state.ues.map((u) => [u.msisdn, u.swapped]),
        [
          [msisdn(40), true],
          [msisdn(41), true],
        ],
      );

      await api('POST', '/control/reset');
      const { latestSimChange, ...rest } = (await sim(41)).body;
      assert.deepEqual(rest, { msisdn: msisdn(41), imsi: '460000000000041', swapped: false });
      assert.ok(ctl.model.startedAt - Date.parse(latestSimChange) >= YEAR_MS);
    });

    it('refuses a swap at a malformed or future date, and for unknown numbers', async () => {
      for (const at of ['yesterday', '2025-01-01', '2025-01-01 10:00:00Z', '2025-13-01T00:00:00Z', 1735689600000, null]) {
        expectProblem(await swap(42, { at }), 400, 'INVALID_REQUEST');
      }
      expectProblem(await swap(42, { at: new Date(Date.now() + 3_600_000).toISOString() }), 400, 'INVALID_REQUEST');
      expectProblem(await api('POST', `/control/ues/${encodeURIComponent('+8613800000000')}/sim-swap`), 404, 'SUBSCRIBER_NOT_FOUND');
      assert.equal((await sim(42)).body.swapped, false, 'nothing changed');
      // Offsets other than Z are RFC 3339 too.
      const yesterday = new Date(Math.floor((Date.now() - 86_400_000) / 1000) * 1000);
      const inBeijing = new Date(yesterday.getTime() + 8 * 3_600_000).toISOString().replace(/\.000Z$/, '+08:00');
      const past = await swap(42, { at: inBeijing });
      assert.equal(past.status, 200, JSON.stringify(past.body));
      assert.equal(past.body.latestSimChange, yesterday.toISOString());
    });
  });

  describe('Bearer API', () => {
    it('establishes a bearer after a set-up latency scaled by timeScale', async () => {
      await rrc(1, 'CONNECTED');
      const answer = await api<{ bearerId: string; state: string }>('POST', '/bearers', gbr(1, 5));
      assert.equal(answer.status, 202);
      assert.equal(answer.headers.get('location'), `/bearers/${answer.body.bearerId}`);
      const outcome = await receiver.next(answer.body.bearerId);
      assert.deepEqual({ ...outcome, at: undefined }, { bearerId: answer.body.bearerId, event: 'ESTABLISHED', at: undefined });
      assert.ok(!Number.isNaN(Date.parse(outcome.at)));
      const b = await bearer(answer.body.bearerId);
      assert.equal(b.state, 'ESTABLISHED');
      assert.equal(b.resourceType, 'GBR');
      assert.equal(b.cellId, 'cell-1');
      assert.equal(b.setup.paged, false);
      assert.ok(b.setup.latencyMs >= 100 && b.setup.latencyMs <= 300, `latency ${b.setup.latencyMs}`);
      assert.equal(b.setup.scaledDelayMs, b.setup.latencyMs * 0.01);
      assert.deepEqual(await cellLoad('cell-1'), { gbrUl: 1 * MBPS, gbrDl: 5 * MBPS, gbrBearers: 1, nonGbrBearers: 0, pendingBearers: 0 });
    });

    it('pages an IDLE UE first: its set-up is slower, and the UE ends CONNECTED', async () => {
      const idle = [2, 22, 42, 62, 82];
      const connected = [3, 23, 43, 63, 83];
      for (const ue of idle) await rrc(ue, 'IDLE');
      for (const ue of connected) await rrc(ue, 'CONNECTED');
      const timing = async (ue: number) => (await bearer(await established(nonGbr(ue)))).setup;
      const idleTimings = await Promise.all(idle.map(timing));
      const connectedTimings = await Promise.all(connected.map(timing));
      assert.ok(idleTimings.every((t) => t.paged && t.latencyMs >= 500 && t.latencyMs <= 3000), JSON.stringify(idleTimings));
      assert.ok(connectedTimings.every((t) => !t.paged && t.latencyMs <= 300), JSON.stringify(connectedTimings));
      assert.ok(Math.min(...idleTimings.map((t) => t.latencyMs)) > Math.max(...connectedTimings.map((t) => t.latencyMs)));
      assert.equal((await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(2))}`)).body.rrcState, 'CONNECTED');
    });

    it('refuses a GBR bearer that does not fit the cell, UL and DL apart, but admits non-GBR ones', async () => {
      // cell-4: 0.9 × 50 Mbit/s DL = 45, 0.9 × 20 Mbit/s UL = 18.
      await established(gbr(4, 30, {}, 5));
      const tooMuchDl = await request(gbr(24, 20));
      assert.deepEqual([tooMuchDl.outcome.event, tooMuchDl.outcome.cause], ['FAILED', 'INSUFFICIENT_RESOURCES']);
      assert.equal((await bearer(tooMuchDl.bearerId)).state, 'FAILED');
      const tooMuchUl = await request(gbr(44, 1, {}, 14));
      assert.equal(tooMuchUl.outcome.cause, 'INSUFFICIENT_RESOURCES');
      await established(gbr(64, 15)); // exactly at the threshold
      await established(nonGbr(84));
      const load = await cellLoad('cell-4');
      assert.deepEqual([load.gbrDl, load.gbrUl, load.gbrBearers, load.nonGbrBearers], [45 * MBPS, 6 * MBPS, 2, 1]);
    });

    it('pre-empts only as many PREEMPTABLE, lower-priority bearers as needed, lowest priority first', async () => {
      const a = await established(gbr(5, 20, { priorityLevel: 9 }));
      const b = await established(gbr(25, 15, { priorityLevel: 12 }));
      const c = await established(gbr(45, 5, { priorityLevel: 14, preemptVuln: 'NOT_PREEMPTABLE' }));
      // 40 + 15 > 45: dropping b (level 12) is enough; a (level 9) stays, c is not pre-emptable.
      const d = await established(gbr(65, 15, { priorityLevel: 2, preemptCap: 'MAY_PREEMPT', preemptVuln: 'NOT_PREEMPTABLE' }));
      const released = await receiver.next(b, 'RELEASED');
      assert.equal(released.cause, 'PREEMPTED');
      assert.deepEqual([(await bearer(b)).state, (await bearer(b)).cause], ['RELEASED', 'PREEMPTED']);
      for (const kept of [a, c, d]) assert.equal((await bearer(kept)).state, 'ESTABLISHED');
      // Only c (level 14) is worse than 13, and it is NOT_PREEMPTABLE: nothing is pre-empted.
      const e = await request(gbr(85, 20, { priorityLevel: 13, preemptCap: 'MAY_PREEMPT' }));
      assert.deepEqual([e.outcome.event, e.outcome.cause], ['FAILED', 'INSUFFICIENT_RESOURCES']);
      // NOT_PREEMPT never pre-empts, even with the best priority.
      const f = await request(gbr(105, 20, { priorityLevel: 1, preemptCap: 'NOT_PREEMPT' }));
      assert.equal(f.outcome.cause, 'INSUFFICIENT_RESOURCES');
      assert.equal((await cellLoad('cell-5')).gbrDl, 40 * MBPS);
      assert.deepEqual(receiver.of(a).map((ev) => ev.event), ['ESTABLISHED']);
    });

    it('caps a UE at 11 dedicated bearers', async () => {
      const ids = await Promise.all(Array.from({ length: 12 }, () => api<{ bearerId: string }>('POST', '/bearers', nonGbr(11))));
      const outcomes = await Promise.all(ids.map((a) => receiver.next(a.body.bearerId)));
      assert.equal(outcomes.filter((o) => o.event === 'ESTABLISHED').length, 11);
      const failed = outcomes.filter((o) => o.event === 'FAILED');
      assert.deepEqual(failed.map((o) => o.cause), ['MAX_NR_BEARERS_REACHED']);
      const one = outcomes.find((o) => o.event === 'ESTABLISHED')!.bearerId;
      assert.equal((await api('DELETE', `/bearers/${one}`)).status, 204);
      await established(nonGbr(11));
    });

    it('deletes idempotently, frees capacity and sends no RELEASED for it', async () => {
      const deleted = await established(gbr(12, 10));
      const other = await established(nonGbr(12));
      const first = await api('DELETE', `/bearers/${deleted}`);
      assert.equal(first.status, 204);
      assert.equal(first.body, undefined);
      assert.equal((await api('DELETE', `/bearers/${deleted}`)).status, 204);
      const gone = await bearer(deleted);
      assert.equal(gone.state, 'RELEASED');
      assert.equal((await cellLoad('cell-12')).gbrDl, 0);
      // A later event of the same UE has been delivered; none came for the deleted bearer.
      await api('POST', `/control/ues/${encodeURIComponent(msisdn(12))}/detach`);
      assert.equal((await receiver.next(other, 'RELEASED')).cause, 'UE_DETACHED');
      assert.deepEqual(receiver.of(deleted).map((e) => e.event), ['ESTABLISHED']);
      expectProblem(await api('DELETE', '/bearers/br-999999'), 404, 'BEARER_NOT_FOUND');
      expectProblem(await api('GET', '/bearers/br-999999'), 404, 'BEARER_NOT_FOUND');
    });

    it('answers 404 UE_NOT_FOUND for an unknown or detached UE address', async () => {
      expectProblem(await api('POST', '/bearers', { ...gbr(13, 1), ueIpv4: '10.45.40.1' }), 404, 'UE_NOT_FOUND');
      await api('POST', `/control/ues/${encodeURIComponent(msisdn(13))}/detach`);
      expectProblem(await api('POST', '/bearers', gbr(13, 1)), 404, 'UE_NOT_FOUND');
    });

    it('answers 400 for a bad body', async () => {
      const good = gbr(14, 1);
      const bad: unknown[] = [
        [],
        { ...good, ueIpv4: '10.45.0' },
        { ...good, fiveQi: 0 },
        { ...good, gbrDl: undefined },
        { ...good, gbrDl: 2 * MBPS },
        { ...good, mbrUl: -1 },
        { ...good, mbrDl: undefined },
        { ...good, arp: { ...ARP, priorityLevel: 16 } },
        { ...good, arp: { ...ARP, preemptCap: 'YES' } },
        { ...good, flowDescriptions: [] },
        { ...good, notifyUrl: 'ftp://127.0.0.1/x' },
      ];
      for (const body of bad) expectProblem(await api('POST', '/bearers', body), 400, 'INVALID_REQUEST');
      expectProblem(await api('POST', '/bearers', '{"ueIpv4":'), 400, 'INVALID_JSON');
      expectProblem(await api('PUT', '/bearers'), 405, 'METHOD_NOT_ALLOWED');
      expectProblem(await api('GET', '/nowhere'), 404, 'NOT_FOUND');
    });

    it('retries a notification the receiver refused', async () => {
      receiver.refuseNext = 2;
      const id = await established(nonGbr(15));
      assert.equal(receiver.attempts.get(id), 3);
    });
  });

  describe('faults', () => {
    it('radio-link failure releases GBR bearers, keeps non-GBR ones, and leaves the UE IDLE', async () => {
      const voice = await established(gbr(6, 2));
      const data = await established(nonGbr(6));
      const answer = await api<SubscriberView>('POST', `/control/ues/${encodeURIComponent(msisdn(6))}/rlf`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.rrcState, 'IDLE');
      assert.equal((await receiver.next(voice, 'RELEASED')).cause, 'RADIO_LINK_FAILURE');
      assert.equal((await bearer(data)).state, 'ESTABLISHED');
      assert.equal((await cellLoad('cell-6')).gbrDl, 0);
    });

    it('handover releases the GBR bearers the target cell cannot admit', async () => {
      await established(gbr(7, 40)); // cell-7 has 5 Mbit/s left
      const big = await established(gbr(8, 10, { priorityLevel: 5 }));
      const small = await established(gbr(8, 3, { priorityLevel: 9 }));
      const data = await established(nonGbr(8));
      const answer = await api<SubscriberView>('POST', `/control/ues/${encodeURIComponent(msisdn(8))}/handover`, { targetCellId: 'cell-7' });
      assert.equal(answer.status, 200);
      assert.deepEqual([answer.body.cellId, answer.body.rrcState], ['cell-7', 'CONNECTED']);
      assert.equal((await receiver.next(big, 'RELEASED')).cause, 'HANDOVER_REJECTED');
      for (const kept of [small, data]) assert.deepEqual([(await bearer(kept)).state, (await bearer(kept)).cellId], ['ESTABLISHED', 'cell-7']);
      assert.equal((await cellLoad('cell-7')).gbrDl, 43 * MBPS);
      assert.equal((await cellLoad('cell-8')).gbrDl, 0);
      expectProblem(await api('POST', `/control/ues/${encodeURIComponent(msisdn(8))}/handover`, { targetCellId: 'cell-99' }), 404, 'CELL_NOT_FOUND');
      expectProblem(await api('POST', `/control/ues/${encodeURIComponent(msisdn(8))}/handover`, {}), 400, 'INVALID_REQUEST');
      await api('POST', `/control/ues/${encodeURIComponent(msisdn(8))}/detach`);
      expectProblem(await api('POST', `/control/ues/${encodeURIComponent(msisdn(8))}/handover`, { targetCellId: 'cell-1' }), 409, 'UE_NOT_ATTACHED');
    });

    it('cell failure releases every bearer there and fails new ones until the cell recovers', async () => {
      const voice = await established(gbr(9, 2));
      const data = await established(nonGbr(29));
      const failed = await api<{ state: string }>('POST', '/control/cells/cell-9/fail');
      assert.deepEqual([failed.status, failed.body.state], [200, 'FAILED']);
      for (const id of [voice, data]) assert.equal((await receiver.next(id, 'RELEASED')).cause, 'CELL_FAILURE');
      const refused = await request(nonGbr(49));
      assert.deepEqual([refused.outcome.event, refused.outcome.cause], ['FAILED', 'CELL_FAILURE']);
      assert.equal((await api<{ state: string }>('POST', '/control/cells/cell-9/recover')).body.state, 'UP');
      await established(gbr(49, 2));
      expectProblem(await api('POST', '/control/cells/cell-99/fail'), 404, 'CELL_NOT_FOUND');
    });

    it('congestion releases the lowest-priority GBR bearers over the reduced capacity', async () => {
      const high = await established(gbr(10, 10, { priorityLevel: 5 }));
      const mid = await established(gbr(30, 10, { priorityLevel: 10, preemptVuln: 'NOT_PREEMPTABLE' }));
      const low = await established(gbr(50, 10, { priorityLevel: 12 }));
      const congested = await api<{ congestionFactor: number; load: { gbrDl: number } }>('POST', '/control/cells/cell-10/congest', { factor: 0.5 });
      assert.equal(congested.status, 200);
      assert.equal(congested.body.congestionFactor, 0.5);
      assert.equal(congested.body.load.gbrDl, 20 * MBPS); // 22.5 Mbit/s allowed now
      assert.equal((await receiver.next(low, 'RELEASED')).cause, 'CONGESTION');
      for (const kept of [high, mid]) assert.equal((await bearer(kept)).state, 'ESTABLISHED');
      expectProblem(await api('POST', '/control/cells/cell-10/congest', { factor: -1 }), 400, 'INVALID_REQUEST');
    });
  });

  describe('state', () => {
    it('reset brings back the initial cells, UEs and random stream', async () => {
      const initial = (await api('GET', '/control/state')).body;
      await rrc(16, 'CONNECTED');
      const firstRun = await bearer(await established(gbr(16, 1)));
      await api('POST', `/control/ues/${encodeURIComponent(msisdn(0))}/detach`);
      await api('POST', '/control/cells/cell-3/fail');
      await api('POST', '/control/cells/cell-4/congest', { factor: 0.3 });
      assert.notDeepEqual((await api('GET', '/control/state')).body, initial);

      const reset = await api('POST', '/control/reset');
      assert.equal(reset.status, 200);
      assert.deepEqual(reset.body, initial);
      assert.deepEqual((await api('GET', '/control/state')).body, initial);
      assert.equal((await api<SubscriberView>('GET', `/subscribers/${encodeURIComponent(msisdn(0))}`)).body.attached, true);
      expectProblem(await api('GET', `/bearers/${firstRun.bearerId}`), 404, 'BEARER_NOT_FOUND');

      await rrc(16, 'CONNECTED');
      const secondRun = await bearer(await established(gbr(16, 1)));
      assert.notEqual(secondRun.bearerId, firstRun.bearerId, 'ids are never reused');
      assert.deepEqual(secondRun.setup, firstRun.setup);
    });

    it('runs the same way with the same seed, and differently with another', async () => {
      const scenario = async (seed: number) => {
        // Ids of separate controllers overlap: each gets its own receiver.
        const own = await Receiver.start();
        const sim = await startBearerController({ seed, timeScale: 0 });
        try {
          const ids: string[] = [];
          for (let ue = 200; ue < 210; ue++) {
            const body = { ...gbr(ue, 30), notifyUrl: own.url };
            ids.push((await call<{ bearerId: string }>(sim.url, 'POST', '/bearers', body)).body.bearerId);
          }
          for (const id of ids) assert.equal((await own.next(id)).event, 'ESTABLISHED');
          const bearers = ids.map((id) => sim.model.getBearer(id)).map(({ requestedAt, establishedAt, endedAt, notifyUrl, ...b }) => b);
          const ues = Array.from({ length: 200 }, (_, i) => sim.model.subscriber(msisdn(i)).rrcState);
          return { bearers, ues, state: sim.model.snapshot().cells.map((c) => c.load) };
        } finally {
          await sim.close();
          await own.close();
        }
      };
      const [one, two, other] = [await scenario(7), await scenario(7), await scenario(8)];
      assert.deepEqual(one, two);
      assert.notDeepEqual(
        one.bearers.map((b) => b.setup),
        other.bearers.map((b) => b.setup),
      );
      assert.notDeepEqual(one.ues, other.ues);
      // With timeScale 0 there is no delay, yet outcomes still come after the 202.
      assert.ok(one.bearers.every((b) => b.setup.scaledDelayMs === 0));
    });

    it('fails a set-up still under way when the UE detaches, and cancels it when deleted', async () => {
      const slow = await startBearerController({ timeScale: 10 });
      try {
        const first = await call<{ bearerId: string }>(slow.url, 'POST', '/bearers', gbr(17, 1));
        const second = await call<{ bearerId: string }>(slow.url, 'POST', '/bearers', gbr(37, 1));
        assert.equal(slow.model.getBearer(first.body.bearerId).state, 'PENDING');
        await call(slow.url, 'POST', `/control/ues/${encodeURIComponent(msisdn(17))}/detach`);
        const outcome = await receiver.next(first.body.bearerId);
        assert.deepEqual([outcome.event, outcome.cause], ['FAILED', 'UE_NOT_ATTACHED']);
        assert.equal((await call(slow.url, 'DELETE', `/bearers/${second.body.bearerId}`)).status, 204);
        assert.equal(slow.model.getBearer(second.body.bearerId).state, 'RELEASED');
        assert.equal(slow.model.cell('cell-17').load.pendingBearers, 0);
      } finally {
        await slow.close();
      }
    });
  });

  it('runs alone as a program and stops cleanly on SIGTERM', async () => {
    const program = await startSimulatorProgram('bearer-controller', ['--port', '0', '--seed', '7', '--time-scale', '0']);
    const { url, seed } = program.listening as unknown as { url: string; seed: number };
    assert.equal(seed, 7);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await call<SubscriberView>(url, 'GET', `/subscribers/${encodeURIComponent(msisdn(5))}`)).body.imsi, '460000000000005');
    assert.equal(await program.stop(), 0);

    assert.equal(await exitCodeOf('bearer-controller', ['--seed', 'x']), 2);
  });
});

describe('simulator notifier: a listener in the same process', function () {
  it('gets the events under its prefix in order per key, without HTTP; one it throws on is dropped; undone, they are POSTed again', async () => {
    const { Notifier } = await import('../simulators/common/notifier.ts');
    const dropped: Array<{ seq: number; reason: string }> = [];
    const notifier = new Notifier<{ seq: number }>({ retries: 0, onDropped: (event, _url, reason) => dropped.push({ seq: event.seq, reason }) });
    const got: Array<[string, number]> = [];
    // Port 9 refuses connections: anything POSTed is dropped, so a delivery seen here was local.
    const undo = notifier.deliverLocally('http://127.0.0.1:9/events/', (url, event) => {
      if (event.seq === 3) throw new Error('refused by the listener');
      got.push([url, event.seq]);
    });
    try {
      for (let seq = 1; seq <= 5; seq++) notifier.send('bearer-1', `http://127.0.0.1:9/events/t${seq}`, { seq });
      assert.deepEqual(got, [], 'delivered after send returns, never inside it');
      for (let i = 0; i < 100 && notifier.pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, [1, 2, 4, 5].map((seq) => [`http://127.0.0.1:9/events/t${seq}`, seq]));
      assert.deepEqual(dropped, [{ seq: 3, reason: 'refused by the listener' }]);

      undo();
      notifier.send('bearer-1', 'http://127.0.0.1:9/events/t6', { seq: 6 });
      for (let i = 0; i < 300 && dropped.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(got.length, 4);
      assert.equal(dropped[1]?.seq, 6);
      assert.match(dropped[1].reason, /ECONNREFUSED/);
    } finally {
      notifier.close();
    }
  });
});
