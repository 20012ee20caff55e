import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SubscriberApiIdentity } from '../adapters/subscriber-api/subscriber-api-identity.ts';
import { startBearerController, type BearerController } from '../simulators/bearer-controller/index.ts';

const PHONE = '+8613900000005';
const ADDRESS = '10.45.0.6';

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads a change feed's lines as they come. */
function readFeed(url: string): Promise<{ lines: Array<Record<string, string>>; close(): void }> {
  return new Promise((resolve, reject) => {
    const lines: Array<Record<string, string>> = [];
    const req = request(`${url}/subscribers/changes`, { agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/x-ndjson');
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts.map((p) => JSON.parse(p)));
      });
      resolve({ lines, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the bearer controller\'s subscriber change feed', () => {
  let bc: BearerController;
  beforeEach(async () => {
    bc = await startBearerController({ timeScale: 0, log: () => undefined });
  });
  afterEach(() => bc.close());

  const control = async (path: string, body?: unknown) => {
    const res = await fetch(`${bc.url}/control/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`);
  };

  it('says it is subscribed, then names each changed UE before the change is acknowledged', async () => {
    const feed = await readFeed(bc.url);
    await until('subscribed', () => feed.lines.length > 0);
    assert.equal(feed.lines[0].type, 'subscribed');
    await control(`ues/${encodeURIComponent(PHONE)}/detach`);
    // The line was written before the control API answered.
    assert.deepEqual(
      feed.lines.slice(1).map(({ type, msisdn, ipv4 }) => ({ type, msisdn, ipv4 })),
      [{ type: 'changed', msisdn: PHONE, ipv4: ADDRESS }],
    );
    await control(`ues/${encodeURIComponent(PHONE)}/sim-swap`);
    await control('reset');
    assert.deepEqual(feed.lines.slice(2).map((l) => l.type), ['changed', 'reset']);
    feed.close();
  });

  it('ends open feeds when the simulator stops, without holding the stop up', async () => {
    const feed = await readFeed(bc.url);
    const started = Date.now();
    await bc.close();
    assert.ok(Date.now() - started < 1500, 'an open feed does not wait out the close grace');
    feed.close();
  });
});

describe('subscriber identity answers kept while the change feed is open', () => {
  let bc: BearerController;
  let identity: SubscriberApiIdentity;
  beforeEach(async () => {
    bc = await startBearerController({ timeScale: 0, log: () => undefined });
    identity = new SubscriberApiIdentity(bc.url);
    await until('the feed is open', () => identity.cachingAnswers);
  });
  afterEach(async () => {
    identity.close();
    await bc.close();
  });

  const control = async (path: string) => {
    const res = await fetch(`${bc.url}/control/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.ok(res.ok, `${path}: ${res.status}`);
  };

  it('asks the network once per subscriber, then answers from memory', async () => {
    assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    assert.equal((await identity.byMsisdn(PHONE))?.ipv4, ADDRESS);
    assert.equal((await identity.byMsisdn(PHONE))?.ipv4, ADDRESS);
    assert.equal(await identity.byMsisdn('+8613800000000'), undefined, 'an unknown number');
    assert.equal(await identity.byMsisdn('+8613800000000'), undefined, 'an unknown number, kept too');
    assert.deepEqual(identity.stats, { asked: 3, cached: 3 });
  });

  it('a change the network makes is seen by the very next lookup', async () => {
    assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    assert.equal((await identity.simInfo(PHONE))?.swapped, false);
    await control(`ues/${encodeURIComponent(PHONE)}/detach`);
    assert.equal(await identity.msisdnAt(ADDRESS), undefined, 'a detached UE holds no address');
    assert.equal((await identity.byMsisdn(PHONE))?.attached, false);
    await control(`ues/${encodeURIComponent(PHONE)}/attach`);
    assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    await control(`ues/${encodeURIComponent(PHONE)}/sim-swap`);
    assert.equal((await identity.simInfo(PHONE))?.swapped, true);
    await control('reset');
    assert.equal((await identity.simInfo(PHONE))?.swapped, false, 'a reset forgets the swap');
  });

  it('keeps nothing once the feed is gone, and asks the network every time', async () => {
    assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    await bc.close();
    await until('the feed is closed', () => !identity.cachingAnswers);
    await assert.rejects(identity.msisdnAt(ADDRESS), /subscriber API unreachable/, 'nothing answered from memory');
  });
});

/** A subscriber API whose feed the test writes, counting the lookups it answers. */
class FakeSubscriberApi {
  server!: Server;
  url = '';
  feeds: ServerResponse[] = [];
  lookups = 0;
  feedStatus = 200;
  /** Holds lookup answers until released. */
  hold?: Promise<void>;
  private attached = true;

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/subscribers/changes') {
      res.writeHead(this.feedStatus, { 'content-type': 'application/x-ndjson' });
      if (this.feedStatus !== 200) return void res.end();
      this.feeds.push(res);
      return;
    }
    this.lookups++;
    const attached = this.attached;
    await this.hold;
    const body = attached ? { msisdn: PHONE, ipv4: ADDRESS, qosEligible: true, attached: true } : { msisdn: PHONE, qosEligible: true, attached: false };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  detach(): void {
    this.attached = false;
  }

  write(line: string): void {
    for (const f of this.feeds) f.write(`${line}\n`);
  }

  endFeeds(): void {
    for (const f of this.feeds.splice(0)) f.end();
  }

  close(): Promise<void> {
    this.endFeeds();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('subscriber identity against a feed that misbehaves', () => {
  let api: FakeSubscriberApi;
  let identity: SubscriberApiIdentity;
  const states: boolean[] = [];
  beforeEach(async () => {
    api = await new FakeSubscriberApi().start();
    states.length = 0;
  });
  afterEach(async () => {
    identity.close();
    await api.close();
  });
  const open = (options = {}) => {
    identity = new SubscriberApiIdentity(api.url, { onFeedState: (o) => states.push(o), ...options });
  };

  it('keeps nothing until the feed says it is subscribed', async () => {
    open();
    await until('the feed connects', () => api.feeds.length === 1);
    await identity.msisdnAt(ADDRESS);
    await identity.msisdnAt(ADDRESS);
    assert.equal(api.lookups, 2);
    api.write('{"type":"subscribed"}');
    await until('subscribed', () => identity.cachingAnswers);
    await identity.msisdnAt(ADDRESS);
    await identity.msisdnAt(ADDRESS);
    assert.equal(api.lookups, 3);
  });

  it('does not keep an answer that was under way while a change came', async () => {
    open();
    await until('the feed connects', () => api.feeds.length === 1);
    api.write('{"type":"subscribed"}');
    await until('subscribed', () => identity.cachingAnswers);
    let release!: () => void;
    api.hold = new Promise((r) => (release = r));
    const pending = identity.msisdnAt(ADDRESS);
    await until('the lookup reached the API', () => api.lookups === 1);
    // The UE detaches after the API read its state and before the answer arrives.
    api.detach();
    api.write(JSON.stringify({ type: 'changed', msisdn: PHONE, ipv4: ADDRESS }));
    await new Promise((r) => setTimeout(r, 50));
    release();
    api.hold = undefined;
    assert.equal(await pending, PHONE, 'the answer itself is as fresh as any round trip');
    assert.equal(await identity.msisdnAt(ADDRESS), undefined, 'but it was not kept');
    assert.equal(api.lookups, 2);
  });

  it('a feed that ends or sends garbage is reopened, and nothing kept meanwhile survives', async () => {
    open();
    await until('the feed connects', () => api.feeds.length === 1);
    api.write('{"type":"subscribed"}');
    await until('subscribed', () => identity.cachingAnswers);
    await identity.msisdnAt(ADDRESS);
    api.endFeeds();
    await until('closed', () => !identity.cachingAnswers);
    await identity.msisdnAt(ADDRESS);
    assert.equal(api.lookups, 2, 'asked again while the feed is closed');
    await until('the feed reconnects', () => api.feeds.length === 1, 10_000);
    api.write('{"type":"subscribed"}');
    await until('subscribed again', () => identity.cachingAnswers);
    await identity.msisdnAt(ADDRESS);
    assert.equal(api.lookups, 3, 'what was learnt before the feed reopened is not trusted');
    api.write('this is not json');
    await until('dropped', () => !identity.cachingAnswers);
    assert.deepEqual(states, [true, false, true, false]);
  });

  it('an API without a feed is asked every time', async () => {
    api.feedStatus = 404;
    open();
    for (let n = 0; n < 3; n++) assert.equal(await identity.msisdnAt(ADDRESS), PHONE);
    assert.equal(api.lookups, 3);
    assert.equal(identity.cachingAnswers, false);
  });

  it('can be told not to keep answers', async () => {
    open({ changeFeed: false });
    await identity.msisdnAt(ADDRESS);
    await identity.msisdnAt(ADDRESS);
    assert.equal(api.lookups, 2);
    assert.equal(api.feeds.length, 0, 'no feed was opened');
  });
});
