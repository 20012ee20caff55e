/**
 * The PCF simulator (simulators/pcf) as an AF sees it: Npcf_PolicyAuthorization over h2c with prior
 * knowledge, notifications to an h2c callback server, and the bearer controller behind it.
 *
 * The bearer controller here is a test double of the PCF's southbound *peer* (a few lines of HTTP/1.1),
 * not of the thing under test; one test at the end runs against the real simulator when it exists.
 * Responses and notifications are validated against the 3GPP OpenAPI documents in
 * /work/shared/anchors/3gpp when that folder exists.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startPcf, type LogEntry, type PcfHandle, type PcfOptions } from '../simulators/pcf/index.ts';
import { loadAnchorSchemas, type SchemaName } from '../simulators/pcf/schemas.ts';

const ANCHORS = '/work/shared/anchors/3gpp';
const BASE = '/npcf-policyauthorization/v1';
const STANDARD_UE = (n: number) => `10.45.0.${n}`;
const IOT_UE = '10.45.36.1';
const DETACHED_UE = '10.45.0.250';

// ---------------------------------------------------------------- anchor schemas

const anchors = loadAnchorSchemas(existsSync(ANCHORS) ? ANCHORS : null);
let skipReasonPrinted = false;

/** Asserts `body` is a valid `name` per the 3GPP documents; says once why it cannot when they are absent. */
function expectSchema(name: SchemaName, body: unknown): void {
  if (!anchors.ok) {
    if (!skipReasonPrinted) console.log(`      (schema checks skipped: ${anchors.reason})`);
    skipReasonPrinted = true;
    return;
  }
  const issues = anchors.schemas.validate(name, body);
  assert.deepEqual(issues, [], `${name} breaks the 3GPP schema: ${JSON.stringify(body)}`);
}

// ---------------------------------------------------------------- h2c client (the AF side of N5)

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: any;
}

function n5Request(url: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = session.request({ ':method': method, ':path': path, ...(payload !== undefined ? { 'content-type': contentType } : {}) });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      session.close();
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(headers[':status']), headers, body: text ? JSON.parse(text) : undefined });
    });
    req.end(payload);
  });
}

/** Connection refused, as node:http2 reports it (the pending stream is cancelled, caused by ECONNREFUSED). */
function refused(err: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }): boolean {
  return err.code === 'ECONNREFUSED' || err.cause?.code === 'ECONNREFUSED';
}

/** Asserts a ProblemDetails answer: status, `cause`, media type, and the 3GPP schema. */
function expectProblem(res: Answer, status: number, cause: string | undefined): void {
  assert.equal(res.status, status, `expected ${status} ${cause}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  assert.equal(res.body.status, status);
  assert.equal(res.body.cause, cause, JSON.stringify(res.body));
  expectSchema(status === 403 ? 'ExtendedProblemDetails' : 'ProblemDetails', res.body);
}

// ---------------------------------------------------------------- the AF's callback server (h2c)

interface Callback {
  path: string;
  httpVersion: string;
  contentType?: string;
  body: any;
}

class AfCallbackServer {
  readonly received: Callback[] = [];
  private server?: http2.Http2Server | http.Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  port = 0;

  constructor(private readonly protocol: 'h2c' | 'http1' = 'h2c') {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', httpVersion: req.httpVersion, contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(204).end();
      });
    };
    if (this.protocol === 'h2c') {
      const server = http2.createServer(onRequest);
      server.on('session', (session) => {
        this.sessions.add(session);
        session.on('close', () => this.sessions.delete(session));
      });
      this.server = server;
    } else {
      this.server = http.createServer(onRequest);
    }
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async waitFor(pathPrefix: string, pathSuffix: string, count = 1): Promise<Callback[]> {
    await waitUntil(() => this.at(pathPrefix, pathSuffix).length >= count, `${count} callback(s) at ${pathPrefix}…${pathSuffix}`);
    return this.at(pathPrefix, pathSuffix);
  }

  at(pathPrefix: string, pathSuffix = ''): Callback[] {
    return this.received.filter((c) => c.path.startsWith(pathPrefix) && c.path.endsWith(pathSuffix));
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      if (server instanceof http.Server) server.closeAllConnections();
      for (const session of this.sessions) session.destroy();
    });
  }
}

// ---------------------------------------------------------------- test double of the bearer controller (HTTP/1.1)

interface FakeBearer {
  bearerId: string;
  request: any;
  deleted: boolean;
}

type Outcome = { event: 'ESTABLISHED' } | { event: 'FAILED'; cause: string } | { event: 'HOLD' };

class FakeBearerController {
  readonly subscribers = new Map<string, any>();
  readonly bearers: FakeBearer[] = [];
  outcome: (request: any) => Outcome = () => ({ event: 'ESTABLISHED' });
  private server?: http.Server;
  url = '';

  constructor() {
    for (let n = 1; n <= 40; n++) this.addSubscriber(STANDARD_UE(n), 'STANDARD');
    this.addSubscriber(IOT_UE, 'IOT');
    this.subscribers.set(DETACHED_UE, { msisdn: '+8613900009998', imsi: '460009999999998', plan: 'STANDARD', qosEligible: true, attached: false, cellId: 'cell-1', rrcState: 'IDLE' });
  }

  private addSubscriber(ipv4: string, plan: string) {
    const n = this.subscribers.size;
    this.subscribers.set(ipv4, { msisdn: `+86139000${String(n).padStart(5, '0')}`, imsi: `46000${String(n).padStart(10, '0')}`, ipv4, plan, qosEligible: plan !== 'IOT', attached: true, cellId: 'cell-1', rrcState: 'CONNECTED' });
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: any) {
    const url = new URL(req.url ?? '/', this.url);
    const json = (status: number, b?: unknown) => res.writeHead(status, b ? { 'content-type': 'application/json' } : {}).end(b ? JSON.stringify(b) : undefined);
    if (req.method === 'GET' && url.pathname === '/subscribers') {
      const s = this.subscribers.get(url.searchParams.get('ipv4') ?? '');
      return s && s.attached ? json(200, s) : s ? json(200, { ...s, ipv4: undefined }) : json(404, { error: 'unknown' });
    }
    if (req.method === 'POST' && url.pathname === '/bearers') {
      const s = this.subscribers.get(body.ueIpv4);
      if (!s?.attached) return json(404, { error: 'UE unknown or detached' });
      const bearer: FakeBearer = { bearerId: `bearer-${this.bearers.length + 1}-${randomUUID().slice(0, 6)}`, request: body, deleted: false };
      this.bearers.push(bearer);
      json(202, { bearerId: bearer.bearerId, state: 'PENDING' });
      const outcome = this.outcome(body);
      if (outcome.event !== 'HOLD') setTimeout(() => void this.notify(bearer, outcome.event, 'cause' in outcome ? outcome.cause : undefined), 5);
      return;
    }
    const m = /^\/bearers\/(.+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && m) {
      const b = this.bearers.find((x) => x.bearerId === m[1]);
      if (b) b.deleted = true;
      return json(204);
    }
    json(404, { error: 'no route' });
  }

  /** What the real controller does on pre-emption, RLF, detach, ...: RELEASED at the notifyUrl. */
  notify(bearer: FakeBearer, event: string, cause?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.request(bearer.request.notifyUrl, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`notifyUrl answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ bearerId: bearer.bearerId, event, ...(cause ? { cause } : {}), at: new Date().toISOString() }));
    });
  }

  for(ueIpv4: string): FakeBearer[] {
    return this.bearers.filter((b) => b.request.ueIpv4 === ueIpv4);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

// ---------------------------------------------------------------- helpers

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A minimal valid AppSessionContext for one UE, one media component, notifying `af` under `cb`. */
function appSession(ueIpv4: string, notifUri: string, overrides: Record<string, unknown> = {}, events = ['SUCCESSFUL_RESOURCES_ALLOCATION', 'FAILED_RESOURCES_ALLOCATION']) {
  return {
    ascReqData: {
      notifUri,
      suppFeat: '0',
      ueIpv4,
      dnn: 'internet',
      medComponents: {
        '1': {
          medCompN: 1,
          qosReference: 'QOS_E',
          marBwUl: '2 Mbps',
          marBwDl: '4 Mbps',
          fStatus: 'ENABLED',
          medSubComps: {
            '1': { fNum: 1, fDescs: [`permit out 17 from 198.51.100.5 5000 to ${ueIpv4} 6000`, `permit in 17 from ${ueIpv4} 6000 to 198.51.100.5 5000`] },
          },
        },
      },
      evSubsc: { notifUri, events: events.map((event) => ({ event })) },
      ...overrides,
    },
  };
}

async function create(pcf: PcfHandle, body: unknown): Promise<Answer & { id: string }> {
  const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const location = String(res.headers.location);
  return { ...res, id: location.slice(location.lastIndexOf('/') + 1) };
}

// ---------------------------------------------------------------- the tests

describe('PCF simulator: Npcf_PolicyAuthorization over h2c', function () {
  const logs: LogEntry[] = [];
  let controller: FakeBearerController;
  let af: AfCallbackServer;
  let pcf: PcfHandle;
  const start = (options: Partial<PcfOptions> = {}) =>
    startPcf({ bearerControllerUrl: controller.url, timeScale: 0.05, log: (e) => logs.push(e), anchorsDir: existsSync(ANCHORS) ? ANCHORS : null, ...options });
  /** A fresh callback base URI per test, so tests never see each other's notifications. */
  const callback = () => `${af.url}/af/${randomUUID()}`;

  before(async () => {
    controller = await new FakeBearerController().start();
    af = await new AfCallbackServer().start();
    pcf = await start();
  });
  beforeEach(() => {
    controller.outcome = () => ({ event: 'ESTABLISHED' });
  });
  after(async () => {
    await pcf?.close();
    await af?.close();
    await controller?.close();
  });

  it('creates a context: 201, Location, AppSessionContext; then SUCCESSFUL_RESOURCES_ALLOCATION at {notifUri}/notify over h2c', async () => {
    const cb = callback();
    const res = await create(pcf, appSession(STANDARD_UE(1), cb));
    assert.equal(res.headers['content-type'], 'application/json');
    assert.match(String(res.headers.location), new RegExp(`^${pcf.url}${BASE}/app-sessions/[0-9a-f-]{36}$`));
    assert.equal(res.body.ascReqData.ueIpv4, STANDARD_UE(1));
    assert.equal(res.body.ascRespData.suppFeat, '0');
    expectSchema('AppSessionContext', res.body);

    const [notification] = await af.waitFor(new URL(cb).pathname, '/notify');
    assert.equal(notification.httpVersion, '2.0');
    assert.equal(notification.contentType, 'application/json');
    expectSchema('EventsNotification', notification.body);
    assert.deepEqual(notification.body, {
      evSubsUri: `${res.headers.location}/events-subscription`,
      evNotifs: [{ event: 'SUCCESSFUL_RESOURCES_ALLOCATION', flows: [{ medCompN: 1, fNums: [1] }] }],
      succResourcAllocReports: [{ mcResourcStatus: 'ACTIVE', flows: [{ medCompN: 1, fNums: [1] }] }],
    });

    // QOS_E → GBR 5QI 3 (default operator table); the GBR is marBw as no mirBw was given; filters from medSubComps.
    const [bearer] = controller.for(STANDARD_UE(1));
    assert.deepEqual({ ...bearer.request, notifyUrl: undefined }, {
      ueIpv4: STANDARD_UE(1),
      fiveQi: 3,
      gbrUl: 2e6,
      gbrDl: 4e6,
      mbrUl: 2e6,
      mbrDl: 4e6,
      arp: { priorityLevel: 6, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' },
      flowDescriptions: appSession(STANDARD_UE(1), cb).ascReqData.medComponents['1'].medSubComps['1'].fDescs,
      notifyUrl: undefined,
    });
    assert.ok(bearer.request.notifyUrl.startsWith(pcf.bearerEventsUrl + '/'));
  });

  it('answers 303 See Other with the existing context for an equivalent request (an AF retrying after a crash), creating nothing', async () => {
    const cb = callback();
    const body = appSession(STANDARD_UE(30), cb);
    const first = await create(pcf, body);
    await af.waitFor(new URL(cb).pathname, '/notify');
    const bearersBefore = controller.for(STANDARD_UE(30)).length;
    const again = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, body);
    assert.equal(again.status, 303);
    assert.equal(again.headers.location, first.headers.location);
    assert.equal(controller.for(STANDARD_UE(30)).length, bearersBefore, 'no second bearer');
    // A different notification URI is a different AF session: a new context.
    const other = await create(pcf, appSession(STANDARD_UE(30), callback()));
    assert.notEqual(other.headers.location, first.headers.location);
  });

  it('maps 5qi-<n>, mirBw (GBR), preemptCap/preemptVuln and resPrio into the bearer request; no medSubComps → UE-wide filters', async () => {
    const cb = callback();
    const body = appSession(STANDARD_UE(2), cb);
    const mc: Record<string, unknown> = body.ascReqData.medComponents['1'];
    Object.assign(mc, { qosReference: '5qi-1', mirBwUl: '64 Kbps', mirBwDl: '128 Kbps', preemptCap: 'MAY_PREEMPT', preemptVuln: 'NOT_PREEMPTABLE', resPrio: 'PRIO_10' });
    delete mc.medSubComps;
    await create(pcf, body);
    await waitUntil(() => controller.for(STANDARD_UE(2)).length === 1, 'the bearer request');
    const { request } = controller.for(STANDARD_UE(2))[0];
    assert.deepEqual([request.fiveQi, request.gbrUl, request.gbrDl, request.mbrUl, request.mbrDl], [1, 64e3, 128e3, 2e6, 4e6]);
    assert.deepEqual(request.arp, { priorityLevel: 7, preemptCap: 'MAY_PREEMPT', preemptVuln: 'NOT_PREEMPTABLE' });
    assert.deepEqual(request.flowDescriptions, [`permit out ip from any to ${STANDARD_UE(2)}`, `permit in ip from ${STANDARD_UE(2)} to any`]);
    const [n] = await af.waitFor(new URL(cb).pathname, '/notify');
    expectSchema('EventsNotification', n.body);
    assert.deepEqual(n.body.evNotifs, [{ event: 'SUCCESSFUL_RESOURCES_ALLOCATION', flows: [{ medCompN: 1 }] }], 'no fNums without subcomponents');
  });

  it('notifies FAILED_RESOURCES_ALLOCATION when the bearer cannot be set up', async () => {
    controller.outcome = () => ({ event: 'FAILED', cause: 'INSUFFICIENT_RESOURCES' });
    const cb = callback();
    const res = await create(pcf, appSession(STANDARD_UE(3), cb));
    const [notification] = await af.waitFor(new URL(cb).pathname, '/notify');
    expectSchema('EventsNotification', notification.body);
    assert.deepEqual(notification.body, {
      evSubsUri: `${res.headers.location}/events-subscription`,
      evNotifs: [{ event: 'FAILED_RESOURCES_ALLOCATION', flows: [{ medCompN: 1, fNums: [1] }] }],
      failedResourcAllocReports: [{ mcResourcStatus: 'INACTIVE', flows: [{ medCompN: 1, fNums: [1] }] }],
    });
    assert.equal(af.at(new URL(cb).pathname, '/terminate').length, 0, 'a bearer that never existed does not terminate the context');
  });

  it('answers 500 PDU_SESSION_NOT_AVAILABLE when no PDU session has the UE address', async () => {
    expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession('10.45.200.1', callback())), 500, 'PDU_SESSION_NOT_AVAILABLE');
    expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession(DETACHED_UE, callback())), 500, 'PDU_SESSION_NOT_AVAILABLE');
    const v6 = appSession(STANDARD_UE(4), callback());
    delete (v6.ascReqData as Record<string, unknown>).ueIpv4;
    expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, { ascReqData: { ...v6.ascReqData, ueIpv6: '2001:db8::1' } }), 500, 'PDU_SESSION_NOT_AVAILABLE');
  });

  it('answers 403 REQUESTED_SERVICE_NOT_AUTHORIZED for an IoT plan and for a 5QI outside the plan', async () => {
    const iot = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession(IOT_UE, callback()));
    expectProblem(iot, 403, 'REQUESTED_SERVICE_NOT_AUTHORIZED');
    assert.equal(iot.body.acceptableServInfo, undefined, 'no bit rate would make an IoT plan acceptable');
    const body = appSession(STANDARD_UE(5), callback());
    body.ascReqData.medComponents['1'].qosReference = '5qi-75';
    expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, body), 403, 'REQUESTED_SERVICE_NOT_AUTHORIZED');
    assert.equal(controller.for(IOT_UE).length + controller.for(STANDARD_UE(5)).length, 0, 'no bearer for a refused request');
  });

  it('answers 403 REQUESTED_SERVICE_NOT_AUTHORIZED with acceptableServInfo above 100 Mbps per direction', async () => {
    const body = appSession(STANDARD_UE(6), callback());
    Object.assign(body.ascReqData.medComponents['1'], { qosReference: 'QOS_L', marBwUl: '10 Mbps', marBwDl: '0.25 Gbps' });
    const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, body);
    expectProblem(res, 403, 'REQUESTED_SERVICE_NOT_AUTHORIZED');
    assert.deepEqual(res.body.acceptableServInfo, { accBwMedComps: { '1': { medCompN: 1, marBwUl: '10 Mbps', marBwDl: '100 Mbps' } }, marBwUl: '10 Mbps', marBwDl: '100 Mbps' });
  });

  it('GET returns the context; GET, PATCH, delete and events-subscription of an unknown id answer 404 APPLICATION_SESSION_CONTEXT_NOT_FOUND', async () => {
    const created = await create(pcf, appSession(STANDARD_UE(7), callback()));
    const got = await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);
    expectSchema('AppSessionContext', got.body);
    const unknown = `${BASE}/app-sessions/${randomUUID()}`;
    expectProblem(await n5Request(pcf.url, 'GET', unknown), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    expectProblem(await n5Request(pcf.url, 'PATCH', unknown, { ascReqData: {} }, 'application/merge-patch+json'), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    expectProblem(await n5Request(pcf.url, 'POST', `${unknown}/delete`), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    expectProblem(await n5Request(pcf.url, 'DELETE', `${unknown}/events-subscription`), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    expectProblem(await n5Request(pcf.url, 'GET', `${BASE}/no-such-resource`), 404, 'RESOURCE_URI_STRUCTURE_NOT_FOUND');
  });

  it('PATCH (merge-patch) changes the bit rate: 200, a new bearer replaces the old one, and the AF is notified', async () => {
    const cb = callback();
    const created = await create(pcf, appSession(STANDARD_UE(8), cb));
    await af.waitFor(new URL(cb).pathname, '/notify');
    const patch = { ascReqData: { medComponents: { '1': { medCompN: 1, marBwDl: '8 Mbps', qosReference: '5qi-6' } } } };
    const wrongType = await n5Request(pcf.url, 'PATCH', `${BASE}/app-sessions/${created.id}`, patch);
    expectProblem(wrongType, 415, undefined);
    const res = await n5Request(pcf.url, 'PATCH', `${BASE}/app-sessions/${created.id}`, patch, 'application/merge-patch+json');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    expectSchema('AppSessionContext', res.body);
    assert.equal(res.body.ascReqData.medComponents['1'].marBwDl, '8 Mbps');
    assert.equal(res.body.ascReqData.medComponents['1'].marBwUl, '2 Mbps', 'merge patch keeps what it does not name');
    assert.equal(res.body.ascReqData.ueIpv4, STANDARD_UE(8));

    const notifications = await af.waitFor(new URL(cb).pathname, '/notify', 2);
    assert.equal(notifications[1].body.evNotifs[0].event, 'SUCCESSFUL_RESOURCES_ALLOCATION');
    const [oldBearer, newBearer] = controller.for(STANDARD_UE(8));
    assert.deepEqual([newBearer.request.fiveQi, newBearer.request.mbrDl, newBearer.request.gbrDl], [6, 8e6, undefined]);
    await waitUntil(() => oldBearer.deleted, 'the replaced bearer to be deleted');
    assert.equal(newBearer.deleted, false);

    const tooMuch = { ascReqData: { medComponents: { '1': { medCompN: 1, marBwDl: '1 Gbps' } } } };
    expectProblem(await n5Request(pcf.url, 'PATCH', `${BASE}/app-sessions/${created.id}`, tooMuch, 'application/merge-patch+json'), 403, 'REQUESTED_SERVICE_NOT_AUTHORIZED');
    assert.equal((await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`)).body.ascReqData.medComponents['1'].marBwDl, '8 Mbps', 'a refused update changes nothing');
  });

  it('POST .../delete answers 204 and releases the bearers; the context is gone', async () => {
    const cb = callback();
    const created = await create(pcf, appSession(STANDARD_UE(9), cb));
    await af.waitFor(new URL(cb).pathname, '/notify');
    const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions/${created.id}/delete`);
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    await waitUntil(() => controller.for(STANDARD_UE(9)).every((b) => b.deleted), 'DELETE /bearers/{id}');
    expectProblem(await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    assert.ok(!pcf.appSessions().some((s) => s.appSessionId === created.id));
  });

  it('a context deleted while its bearer is still being set up leaves no bearer behind', async () => {
    controller.outcome = () => ({ event: 'HOLD' });
    const created = await create(pcf, appSession(STANDARD_UE(10), callback()));
    await waitUntil(() => controller.for(STANDARD_UE(10)).length === 1, 'the bearer request');
    assert.equal((await n5Request(pcf.url, 'POST', `${BASE}/app-sessions/${created.id}/delete`)).status, 204);
    await waitUntil(() => controller.for(STANDARD_UE(10))[0].deleted, 'the pending bearer to be deleted');
    // Established after all (the controller did not see the DELETE in time): the PCF undoes it.
    const first = controller.for(STANDARD_UE(10))[0];
    const late = { ...first, bearerId: `${first.bearerId}-late`, deleted: false };
    controller.bearers.push(late);
    await controller.notify(late, 'ESTABLISHED');
    await waitUntil(() => late.deleted, 'the late bearer to be deleted');
  });

  for (const [cause, termCause] of [
    ['PREEMPTED', 'INSUFFICIENT_QOS_FLOW_RESOURCES'],
    ['HANDOVER_REJECTED', 'INSUFFICIENT_QOS_FLOW_RESOURCES'],
    ['UE_DETACHED', 'PDU_SESSION_TERMINATION'],
    ['RADIO_LINK_FAILURE', 'ALL_SDF_DEACTIVATION'],
  ]) {
    it(`asks the AF to terminate when the last bearer is RELEASED (${cause} → ${termCause})`, async () => {
      const ue = STANDARD_UE(11 + ['PREEMPTED', 'HANDOVER_REJECTED', 'UE_DETACHED', 'RADIO_LINK_FAILURE'].indexOf(cause));
      const cb = callback();
      const created = await create(pcf, appSession(ue, cb));
      await af.waitFor(new URL(cb).pathname, '/notify');
      await controller.notify(controller.for(ue)[0], 'RELEASED', cause);
      const [termination] = await af.waitFor(new URL(cb).pathname, '/terminate');
      assert.equal(termination.httpVersion, '2.0');
      expectSchema('TerminationInfo', termination.body);
      assert.deepEqual(termination.body, { termCause, resUri: created.headers.location });
      // The context stays until the AF deletes it (TS 29.514 §4.2.5.3).
      assert.equal((await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`)).status, 200);
    });
  }

  it('a RELEASED bearer while another media component still has one → FAILED_RESOURCES_ALLOCATION (INACTIVE), no terminate', async () => {
    const cb = callback();
    const body = appSession(STANDARD_UE(15), cb);
    (body.ascReqData.medComponents as Record<string, unknown>)['2'] = { medCompN: 2, qosReference: '5qi-7', marBwUl: '1 Mbps', marBwDl: '1 Mbps' };
    await create(pcf, body);
    await af.waitFor(new URL(cb).pathname, '/notify', 2);
    const victim = controller.for(STANDARD_UE(15)).find((b) => b.request.fiveQi === 7)!;
    await controller.notify(victim, 'RELEASED', 'PREEMPTED');
    const notifications = await af.waitFor(new URL(cb).pathname, '/notify', 3);
    expectSchema('EventsNotification', notifications[2].body);
    assert.deepEqual(notifications[2].body.failedResourcAllocReports, [{ mcResourcStatus: 'INACTIVE', flows: [{ medCompN: 2 }] }]);
    assert.equal(af.at(new URL(cb).pathname, '/terminate').length, 0);
  });

  it('sends only the events the AF subscribed to', async () => {
    const cb = callback();
    await create(pcf, appSession(STANDARD_UE(16), cb, {}, ['FAILED_RESOURCES_ALLOCATION']));
    await waitUntil(() => pcf.appSessions().some((s) => s.ueIpv4 === STANDARD_UE(16) && s.flows[0]?.phase === 'ESTABLISHED'), 'the bearer to be established');
    await controller.notify(controller.for(STANDARD_UE(16))[0], 'RELEASED', 'CELL_FAILURE');
    await af.waitFor(new URL(cb).pathname, '/terminate');
    // Notifications of one context are delivered in order: a SUCCESSFUL_RESOURCES_ALLOCATION would have come first.
    assert.deepEqual(af.at(new URL(cb).pathname, '/notify'), []);
  });

  it('PUT events-subscription creates (201 + Location) then modifies (200); DELETE removes it (204)', async () => {
    const cb = callback();
    const created = await create(pcf, appSession(STANDARD_UE(17), cb, { evSubsc: undefined }));
    const uri = `${BASE}/app-sessions/${created.id}/events-subscription`;
    const subscription = { notifUri: cb, events: [{ event: 'SUCCESSFUL_RESOURCES_ALLOCATION' }] };
    const first = await n5Request(pcf.url, 'PUT', uri, subscription);
    assert.equal(first.status, 201);
    assert.equal(first.headers.location, `${created.headers.location}/events-subscription`);
    expectSchema('EventsSubscPutData', first.body);
    const second = await n5Request(pcf.url, 'PUT', uri, { ...subscription, events: [{ event: 'FAILED_RESOURCES_ALLOCATION' }] });
    assert.equal(second.status, 200);
    expectSchema('EventsSubscPutData', second.body);
    assert.deepEqual((await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`)).body.ascReqData.evSubsc.events, [{ event: 'FAILED_RESOURCES_ALLOCATION' }]);
    assert.equal((await n5Request(pcf.url, 'DELETE', uri)).status, 204);
    assert.equal((await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`)).body.ascReqData.evSubsc, undefined);
    expectProblem(await n5Request(pcf.url, 'PUT', uri, { events: [] }), 400, 'MANDATORY_IE_INCORRECT');
  });

  it('notifies by the subscription the context holds now: one PUT after creation is honoured, one DELETEd is not', async () => {
    const cb = callback();
    const created = await create(pcf, appSession(STANDARD_UE(21), cb, { evSubsc: undefined }));
    await waitUntil(() => pcf.appSessions().some((s) => s.appSessionId === created.id && s.flows[0]?.phase === 'ESTABLISHED'), 'the first bearer to be established');
    const uri = `${BASE}/app-sessions/${created.id}`;
    assert.equal((await n5Request(pcf.url, 'PUT', `${uri}/events-subscription`, { notifUri: cb, events: [{ event: 'SUCCESSFUL_RESOURCES_ALLOCATION' }] })).status, 201);
    const patch = (mbps: number) => n5Request(pcf.url, 'PATCH', uri, { ascReqData: { medComponents: { '1': { medCompN: 1, marBwDl: `${mbps} Mbps` } } } }, 'application/merge-patch+json');
    assert.equal((await patch(6)).status, 200);
    const [n] = await af.waitFor(new URL(cb).pathname, '/notify');
    assert.equal(n.body.evNotifs[0].event, 'SUCCESSFUL_RESOURCES_ALLOCATION');
    assert.equal((await n5Request(pcf.url, 'DELETE', `${uri}/events-subscription`)).status, 204);
    assert.equal((await patch(8)).status, 200);
    await waitUntil(() => pcf.appSessions().some((s) => s.appSessionId === created.id && s.flows.length === 1 && s.flows[0].phase === 'ESTABLISHED' && !s.flows[0].replacing && controller.for(STANDARD_UE(21)).length === 3), 'the third bearer to be established');
    assert.equal(af.at(new URL(cb).pathname, '/notify').length, 1, 'nothing after the subscription was deleted');
    assert.equal((await n5Request(pcf.url, 'GET', uri)).body.ascReqData.medComponents['1'].marBwDl, '8 Mbps');
  });

  it('retries a notification while the AF is unreachable, and delivers it once the AF is back', async () => {
    const late = new AfCallbackServer();
    await late.start();
    const port = late.port;
    await late.close(); // nothing listens there for now
    const cb = `http://127.0.0.1:${port}/af/${randomUUID()}`;
    const before = logs.length;
    // Real-time back-off (250 ms, 500 ms, ...), so the AF has time to come back between attempts.
    const patient = await start({ timeScale: 1 });
    try {
      await create(patient, appSession(STANDARD_UE(18), cb));
      await waitUntil(() => logs.slice(before).some((l) => l.msg.includes('will retry') && String(l.url).startsWith(cb)), 'a failed first attempt');
      await late.start(port);
      const [n] = await late.waitFor(new URL(cb).pathname, '/notify');
      assert.equal(n.body.evNotifs[0].event, 'SUCCESSFUL_RESOURCES_ALLOCATION');
    } finally {
      await patient.close();
      await late.close();
    }
  });

  it('stop() refuses connections (no hang); start() serves again on the same port with the state kept', async () => {
    const created = await create(pcf, appSession(STANDARD_UE(19), callback()));
    await pcf.stop();
    assert.equal(pcf.running, false);
    await assert.rejects(n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`), refused);
    await pcf.start();
    assert.equal(pcf.running, true);
    assert.equal((await n5Request(pcf.url, 'GET', `${BASE}/app-sessions/${created.id}`)).status, 200);
  });

  it('stop() drops open HTTP/2 connections instead of serving on them', async () => {
    const session = http2.connect(pcf.url);
    session.on('error', () => undefined);
    await new Promise((resolve) => session.once('connect', resolve));
    const closed = new Promise((resolve) => session.once('close', resolve));
    await pcf.stop();
    await closed;
    await pcf.start();
  });

  it('can start stopped, and serves HTTP/1.1 callbacks when configured to', async () => {
    const af1 = await new AfCallbackServer('http1').start();
    const other = await start({ startStopped: true, callbackProtocol: 'http1' });
    try {
      await assert.rejects(n5Request(other.url, 'GET', `${BASE}/app-sessions/x`), refused);
      await other.start();
      const cb = `${af1.url}/af/${randomUUID()}`;
      await create(other, appSession(STANDARD_UE(20), cb));
      const [n] = await af1.waitFor(new URL(cb).pathname, '/notify');
      assert.equal(n.httpVersion, '1.1');
      expectSchema('EventsNotification', n.body);
    } finally {
      await other.close();
      await af1.close();
    }
  });
});

// ---------------------------------------------------------------- bad bodies, with and without the anchor schemas

const BAD_BODIES: Array<[string, (b: any) => unknown, string]> = [
  ['no notifUri', (b) => (delete b.ascReqData.notifUri, b), 'MANDATORY_IE_MISSING'],
  ['no suppFeat', (b) => (delete b.ascReqData.suppFeat, b), 'MANDATORY_IE_MISSING'],
  ['no UE address', (b) => (delete b.ascReqData.ueIpv4, b), 'MANDATORY_IE_MISSING'],
  ['no ascReqData', () => ({}), 'MANDATORY_IE_MISSING'],
  ['evSubsc without notifUri', (b) => (delete b.ascReqData.evSubsc.notifUri, b), 'MANDATORY_IE_MISSING'],
  ['a malformed ueIpv4', (b) => ((b.ascReqData.ueIpv4 = '10.45.0.300'), b), 'MANDATORY_IE_INCORRECT'],
  ['both ueIpv4 and ueIpv6', (b) => ((b.ascReqData.ueIpv6 = '2001:db8::1'), b), 'MANDATORY_IE_INCORRECT'],
  ['a non-hex suppFeat', (b) => ((b.ascReqData.suppFeat = 'xyz'), b), 'MANDATORY_IE_INCORRECT'],
  ['a BitRate without unit', (b) => ((b.ascReqData.medComponents['1'].marBwDl = '4000000'), b), 'INVALID_SERVICE_INFORMATION'],
  ['a string medCompN', (b) => ((b.ascReqData.medComponents['1'].medCompN = '1'), b), 'INVALID_SERVICE_INFORMATION'],
  ['a medCompN that is not its key', (b) => ((b.ascReqData.medComponents['1'].medCompN = 2), b), 'INVALID_SERVICE_INFORMATION'],
  ['an unknown qosReference', (b) => ((b.ascReqData.medComponents['1'].qosReference = 'GOLD'), b), 'INVALID_SERVICE_INFORMATION'],
  ['mirBw above marBw', (b) => ((b.ascReqData.medComponents['1'].mirBwDl = '5 Mbps'), b), 'INVALID_SERVICE_INFORMATION'],
  ['three fDescs', (b) => (b.ascReqData.medComponents['1'].medSubComps['1'].fDescs.push('permit out ip from any to any'), b), 'INVALID_SERVICE_INFORMATION'],
];

for (const mode of ['anchor schemas', 'built-in structural checks'] as const) {
  describe(`PCF simulator: bad bodies → 400 (${mode})`, function () {
    let controller: FakeBearerController;
    let pcf: PcfHandle;
    const logs: LogEntry[] = [];

    before(async function () {
      if (mode === 'anchor schemas' && !existsSync(ANCHORS)) {
        console.log(`      (skipped: ${ANCHORS} does not exist)`);
        this.skip();
      }
      controller = await new FakeBearerController().start();
      pcf = await startPcf({ bearerControllerUrl: controller.url, log: (e) => logs.push(e), anchorsDir: mode === 'anchor schemas' ? ANCHORS : null });
    });
    after(async () => {
      await pcf?.close();
      await controller?.close();
    });

    it('says in its log which validation is in force', () => {
      if (mode === 'anchor schemas') assert.equal(pcf.validation, `anchors:${ANCHORS}`);
      else {
        assert.equal(pcf.validation, 'structural');
        assert.ok(logs.some((l) => l.level === 'warn' && /structural checks/.test(l.msg)), 'a log line says the fallback is used');
      }
    });

    for (const [what, mutate, cause] of BAD_BODIES) {
      it(`${what} → 400 ${cause}`, async () => {
        const body = mutate(appSession(STANDARD_UE(1), 'http://127.0.0.1:9/af/x'));
        const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, body);
        expectProblem(res, 400, cause);
        assert.ok(Array.isArray(res.body.invalidParams) && res.body.invalidParams.length > 0, JSON.stringify(res.body));
      });
    }

    it('a body that is not JSON → 400 INVALID_MSG_FORMAT; a wrong media type → 415', async () => {
      expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, '{"ascReqData":'), 400, 'INVALID_MSG_FORMAT');
      expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession(STANDARD_UE(1), 'http://127.0.0.1:9/x'), 'text/plain'), 415, undefined);
      assert.equal(controller.bearers.length, 0);
    });
  });
}

// ---------------------------------------------------------------- against the real bearer controller, when it exists

for (const binding of ['over HTTP', 'in the same process'] as const) {
  describe(`PCF simulator with the real bearer controller (${binding})`, function () {
    let bc: Awaited<ReturnType<typeof import('../simulators/bearer-controller/index.ts').startBearerController>>;
    let af: AfCallbackServer;
    let pcf: PcfHandle;

    before(async () => {
      const { startBearerController } = await import('../simulators/bearer-controller/index.ts');
      bc = await startBearerController({ port: 0, timeScale: 0.01, log: () => undefined });
      af = await new AfCallbackServer().start();
      // In one process, nothing may go over HTTP: the controller's URL given then refuses connections.
      pcf =
        binding === 'over HTTP'
          ? await startPcf({ bearerControllerUrl: bc.url, log: () => undefined, timeScale: 0.05 })
          : await startPcf({ bearerControllerUrl: 'http://127.0.0.1:9', bearerController: bc, log: () => undefined, timeScale: 0.05 });
    });
    after(async () => {
      await pcf.close();
      await af.close();
      await bc.close();
    });

    it('allocates for a subscriber of the real controller, and terminates with PDU_SESSION_TERMINATION when the UE detaches', async function () {
      const cb = `${af.url}/af/${randomUUID()}`;
      // A STANDARD, attached UE of the controller's population (10.45.0.1 is index 0).
      const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession('10.45.0.1', cb));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const [n] = await af.waitFor(new URL(cb).pathname, '/notify');
      expectSchema('EventsNotification', n.body);
      assert.equal(n.body.evNotifs[0].event, 'SUCCESSFUL_RESOURCES_ALLOCATION', JSON.stringify(n.body));
      const detach = await fetch(`${bc.url}/control/ues/${encodeURIComponent('+8613900000000')}/detach`, { method: 'POST' });
      assert.equal(detach.status, 200, await detach.text());
      const [termination] = await af.waitFor(new URL(cb).pathname, '/terminate');
      expectSchema('TerminationInfo', termination.body);
      assert.deepEqual(termination.body, { termCause: 'PDU_SESSION_TERMINATION', resUri: res.headers.location });
      assert.equal((await n5Request(pcf.url, 'POST', `${new URL(String(res.headers.location)).pathname}/delete`)).status, 204);
    });

    it('deleting the app session releases its bearer in the controller', async function () {
      const cb = `${af.url}/af/${randomUUID()}`;
      const res = await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession('10.45.0.2', cb));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      await af.waitFor(new URL(cb).pathname, '/notify');
      const id = String(res.headers.location).split('/').pop();
      const bearerId = pcf.appSessions().find((s) => s.appSessionId === id)?.flows[0]?.bearerId;
      assert.ok(bearerId, 'the allocated flow names its bearer');
      assert.equal(bc.model.getBearer(bearerId).state, 'ESTABLISHED');
      assert.equal((await n5Request(pcf.url, 'POST', `${new URL(String(res.headers.location)).pathname}/delete`)).status, 204);
      await waitUntil(() => bc.model.getBearer(bearerId).state === 'RELEASED', 'the bearer is released');
    });

    it('binds by the controller\'s UE table: an unknown address is PDU_SESSION_NOT_AVAILABLE, an IoT plan REQUESTED_SERVICE_NOT_AUTHORIZED', async function () {
      const cb = `${af.url}/af/${randomUUID()}`;
      expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession('10.99.0.1', cb)), 500, 'PDU_SESSION_NOT_AVAILABLE');
      // Index 9000 (10.45.36.1) and above are on the IoT plan, which has no QoS on demand.
      expectProblem(await n5Request(pcf.url, 'POST', `${BASE}/app-sessions`, appSession('10.45.36.1', cb)), 403, 'REQUESTED_SERVICE_NOT_AUTHORIZED');
    });
  });
}

describe('PCF simulator control API', function () {
  it('POST /control/stop refuses N5 connections; /control/start serves again', async () => {
    const { startSimulatedNetwork } = await import('../simulators/index.ts');
    const net = await startSimulatedNetwork({ timeScale: 0 });
    try {
      const stop = await fetch(`${net.pcfControlUrl}/stop`, { method: 'POST' });
      assert.deepEqual(await stop.json(), { sbi: 'stopped' });
      assert.equal(net.pcf.running, false);
      await assert.rejects(n5Request(net.pcf.url, 'GET', `${BASE}/app-sessions/none`));
      const start = await fetch(`${net.pcfControlUrl}/start`, { method: 'POST' });
      assert.deepEqual(await start.json(), { sbi: 'listening' });
      expectProblem(await n5Request(net.pcf.url, 'GET', `${BASE}/app-sessions/none`), 404, 'APPLICATION_SESSION_CONTEXT_NOT_FOUND');
    } finally {
      await net.close();
    }
  });
});
