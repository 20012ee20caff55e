import assert from 'node:assert/strict';
import { createServer, IncomingMessage, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';

describe('contract-driven HTTP: every bad request gets the right CAMARA error', () => {
  let gw: TestGateway;
  let token: string;

  before(async () => {
    gw = await startTestGateway();
    token = await gw.token();
  });
  after(() => gw.close());

  const create = () => gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`);

  it('accepts a valid request and answers per the document', async () => {
    const res = await create().send({ message: 'hello' });
    assert.equal(res.status, 201);
    await expectContract(res);
  });

  it('unknown body property: 400 INVALID_ARGUMENT naming it', async () => {
    const res = await create().send({ message: 'hi', colour: 'red' });
    await expectError(res, 400, 'INVALID_ARGUMENT');
    assert.match(res.body.message, /colour/);
  });

  it('malformed JSON: 400 INVALID_ARGUMENT', async () => {
    const res = await create().set('Content-Type', 'application/json').send('{"message": "hi"');
    await expectError(res, 400, 'INVALID_ARGUMENT');
    assert.match(res.body.message, /JSON/);
  });

  it('missing body: 400 INVALID_ARGUMENT', async () => {
    const res = await create();
    await expectError(res, 400, 'INVALID_ARGUMENT');
    assert.match(res.body.message, /body is required/);
  });

  it('empty JSON object: 400 INVALID_ARGUMENT for the missing property', async () => {
    const res = await create().send({});
    await expectError(res, 400, 'INVALID_ARGUMENT');
    assert.match(res.body.message, /message/);
  });

  it('JSON null, array, string and number bodies: 400 INVALID_ARGUMENT', async () => {
    for (const body of ['null', '[]', '"text"', '42']) {
      const res = await create().set('Content-Type', 'application/json').send(body);
      await expectError(res, 400, 'INVALID_ARGUMENT');
    }
  });

  it('wrong types and out-of-range values: 400 INVALID_ARGUMENT', async () => {
    for (const body of [{ message: 42 }, { message: '' }, { message: 'x'.repeat(257) }, { message: 'x', delaySeconds: -1 }, { message: 'x', delaySeconds: 1.5 }]) {
      const res = await create().send(body);
      await expectError(res, 400, 'INVALID_ARGUMENT');
    }
  });

  it('oversize body: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await create().send({ message: 'x'.repeat(gw.config.bodyLimitBytes + 10) });
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('wrong content type: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const res = await create().set('Content-Type', type).send('message=hi');
      await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  /** A POST over a real socket with exactly these bytes (supertest would re-encode a Buffer body as JSON). */
  function rawPost(headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const server = createServer(gw.system.app!).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/echo/v1/jobs', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => server.close(() => resolve({ status: res.statusCode!, body: JSON.parse(text) })));
        });
        req.on('error', (err) => server.close(() => reject(err)));
        for (const c of chunks) req.write(c);
        req.end();
      });
    });
  }

  it('gzip and deflate bodies are decoded; a body that is not what its encoding says: 400', async () => {
    const json = JSON.stringify({ message: 'compressed' });
    for (const [encoding, bytes] of [['gzip', gzipSync(json)], ['deflate', deflateSync(json)]] as const) {
      const res = await rawPost({ 'content-encoding': encoding, 'content-length': String(bytes.length) }, [bytes]);
      assert.equal(res.status, 201, `${encoding}: ${JSON.stringify(res.body)}`);
    }
    const notGzip = await rawPost({ 'content-encoding': 'gzip', 'content-length': String(json.length) }, [Buffer.from(json)]);
    assert.deepEqual([notGzip.status, notGzip.body.code], [400, 'INVALID_ARGUMENT']);
  });

  it('a chunked body over the limit: 413, and a gzip bomb is cut at the limit after decoding', async () => {
    const big = Buffer.from(JSON.stringify({ message: 'x'.repeat(gw.config.bodyLimitBytes) }));
    const pieces: Buffer[] = [];
    for (let i = 0; i < big.length; i += 8192) pieces.push(big.subarray(i, i + 8192));
    const chunked = await rawPost({ 'transfer-encoding': 'chunked' }, pieces);
    assert.deepEqual([chunked.status, chunked.body.code], [413, 'PAYLOAD_TOO_LARGE']);
    const bomb = gzipSync(Buffer.alloc(gw.config.bodyLimitBytes * 20, 0x20));
    assert.ok(bomb.length < gw.config.bodyLimitBytes, 'small on the wire');
    const exploded = await rawPost({ 'content-encoding': 'gzip', 'content-length': String(bomb.length) }, [bomb]);
    assert.deepEqual([exploded.status, exploded.body.code], [413, 'PAYLOAD_TOO_LARGE']);
  });

  /**
   * Sends one request with this request target over a real socket to the gateway's listener, and
   * reports what prototype the request object had once it was answered.
   */
  function rawRequest(method: string, target: string, body?: string): Promise<{ status: number; body: any; nodePrototype: boolean }> {
    return new Promise((resolve, reject) => {
      let nodePrototype = false;
      const server = createServer((req, res) => {
        res.on('finish', () => (nodePrototype = Object.getPrototypeOf(req) === IncomingMessage.prototype));
        gw.system.app!(req, res);
      }).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) };
        const req = httpRequest({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => server.close(() => resolve({ status: res.statusCode!, body: JSON.parse(text), nodePrototype })));
        });
        req.on('error', (err) => server.close(() => reject(err)));
        req.end(body);
      });
    });
  }

  it("serves API calls with node's own request objects, and the rest through express", async () => {
    // Express swaps the prototypes of each request and response it serves, which makes V8 keep a
    // request's garbage until a full collection; API calls, the hot path, must not pay for it.
    const api = await rawRequest('POST', '/echo/v1/jobs', JSON.stringify({ message: 'hi' }));
    assert.equal(api.status, 201);
    assert.equal(api.nodePrototype, true, 'an API call keeps node\'s IncomingMessage prototype');
    const health = await rawRequest('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.nodePrototype, false, 'other paths are served by express');
  });

  it('an API call in absolute form is served like one in origin form', async () => {
    const res = await rawRequest('POST', 'http://gateway.example/echo/v1/jobs', JSON.stringify({ message: 'hi' }));
    assert.equal(res.status, 201);
    assert.ok(res.body.jobId);
    const bad = await rawRequest('POST', 'http://gateway.example/echo/v1/jobs', JSON.stringify({ message: 42 }));
    assert.deepEqual([bad.status, bad.body.code], [400, 'INVALID_ARGUMENT']);
  });

  it('a path parameter that is not valid percent-encoding: 400, never a 5xx', async () => {
    const res = await gw.http.get('/echo/v1/jobs/%E0%A4%A').set('Authorization', `Bearer ${token}`);
    await expectError(res, 400, 'INVALID_ARGUMENT');
    assert.match(res.body.message, /jobId/);
  });

  it('trailing slashes are ignored, as openapi-backend matches paths', async () => {
    const res = await create().send({ message: 'hello' });
    const again = await gw.http.get(`/echo/v1/jobs/${res.body.jobId}/`).set('Authorization', `Bearer ${token}`);
    assert.equal(again.status, 200, again.text);
  });

  it('unsupported content encoding: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await create().set('Content-Type', 'application/json').set('Content-Encoding', 'br-unknown').send('{"message":"hi"}');
    await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('unknown path: 404 NOT_FOUND, inside and outside an API', async () => {
    await expectError(await gw.http.get('/echo/v1/nope').set('Authorization', `Bearer ${token}`), 404, 'NOT_FOUND');
    await expectError(await gw.http.get('/no-such-api/v1/things'), 404, 'NOT_FOUND');
    await expectError(await gw.http.post('/'), 404, 'NOT_FOUND');
  });

  it('wrong method: 405 METHOD_NOT_ALLOWED with Allow', async () => {
    const res = await gw.http.put('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).send({});
    await expectError(res, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, 'POST');
  });

  it('malformed path parameter: 400 INVALID_ARGUMENT', async () => {
    const res = await gw.http.get('/echo/v1/jobs/not-a-uuid').set('Authorization', `Bearer ${token}`);
    await expectError(res, 400, 'INVALID_ARGUMENT');
  });

  it('no bad request reaches a handler or produces a 5xx', async () => {
    const handled: string[] = [];
    const bodies: Array<[string, string]> = [
      ['application/json', '{'],
      ['application/json', '{"message":{"$gt":""}}'],
      ['application/json', '{"__proto__":{"admin":true},"message":"x"}'],
      ['application/json', '\u0000'],
      ['application/json', '{"message":"x","delaySeconds":"1e999"}'],
      ['application/json', JSON.stringify({ message: 'x', nested: { a: [1, 2, { b: null }] } })],
      ['application/json; charset=utf-16', '{"message":"x"}'],
      ['multipart/form-data; boundary=x', '--x--'],
      ['', 'message=x'],
    ];
    for (const [type, body] of bodies) {
      const req = create();
      if (type) req.set('Content-Type', type);
      const res = await req.send(body);
      assert.ok(res.status >= 400 && res.status < 500, `${type} ${JSON.stringify(body)} → ${res.status} ${res.text}`);
      await expectContract(res);
      handled.push(`${res.status}`);
    }
    assert.equal(handled.length, bodies.length);
  });
});

describe('x-correlator', () => {
  let gw: TestGateway;
  let token: string;

  before(async () => {
    gw = await startTestGateway();
    token = await gw.token();
  });
  after(() => gw.close());

  it('is echoed when given', async () => {
    const res = await gw.http.get('/healthz').set('x-correlator', 'abc-123:{x}');
    assert.equal(res.headers['x-correlator'], 'abc-123:{x}');
  });

  it('is generated when absent, and differs per request', async () => {
    const a = await gw.http.get('/healthz');
    const b = await gw.http.get('/healthz');
    assert.match(a.headers['x-correlator'], /^[0-9a-f-]{36}$/);
    assert.notEqual(a.headers['x-correlator'], b.headers['x-correlator']);
  });

  it('is echoed on error responses and on the token endpoint', async () => {
    const res = await gw.http.get('/echo/v1/jobs/00000000-0000-4000-8000-000000000000').set('x-correlator', 'err-1');
    await expectError(res, 401, 'UNAUTHENTICATED');
    assert.equal(res.headers['x-correlator'], 'err-1');
    const tok = await gw.http.post('/oauth2/token').set('x-correlator', 'tok-1').type('form').send({ grant_type: 'client_credentials' });
    assert.equal(tok.headers['x-correlator'], 'tok-1');
  });

  it('breaking the Commonalities pattern is 400 INVALID_ARGUMENT', async () => {
    for (const bad of ['has space', 'semi"quote', 'x'.repeat(257), 'ünïcode']) {
      const res = await gw.http
        .post('/echo/v1/jobs')
        .set('Authorization', `Bearer ${token}`)
        .set('x-correlator', bad)
        .send({ message: 'hi' });
      await expectError(res, 400, 'INVALID_ARGUMENT');
      assert.match(res.body.message, /x-correlator/);
    }
  });

  it('is carried into the job and into the log lines of the request and the job', async () => {
    const correlator = `corr-${Date.now()}`;
    const res = await gw.http.post('/echo/v1/jobs').set('Authorization', `Bearer ${token}`).set('x-correlator', correlator).send({ message: 'trace me' });
    assert.equal(res.status, 201);
    let job;
    for (let i = 0; i < 100; i++) {
      job = await gw.http.get(`/echo/v1/jobs/${res.body.jobId}`).set('Authorization', `Bearer ${token}`);
      if (job.body.status === 'DONE') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(job!.body.status, 'DONE');
    assert.equal(job!.body.correlator, correlator, 'the worker saw the request correlator');
    // The worker logs its completion after the job's result is stored, so the line may trail the DONE read.
    const lines = () => gw.logs.lines.filter((l) => l.correlator === correlator);
    for (let i = 0; i < 100 && !lines().some((l) => l.msg === 'job completed'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(lines().some((l) => l.msg === 'request' && l.operation === 'createEchoJob' && l.clientId === 'acme-app'));
    assert.ok(lines().some((l) => l.msg === 'job completed' && l.job === 'echo.process'), 'the worker logged with the correlator');
  });
});
