import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ValidationContext } from 'openapi-backend';
import { OPENAPI_DIR, documents } from './support/contract.ts';
import { basePathOf, loadDocument } from '../src/http/openapi.ts';
import { diffDocuments, diffSchemas, type ConformanceAllowance } from './support/schema-diff.ts';

const SHARED = process.env.SHARED_DIR ?? fileURLToPath(new URL('../../shared/', import.meta.url));
const ANCHORS = join(SHARED, 'anchors/camara');

/** Our documents and the CAMARA definitions they implement (we serve the 1.2 APIs at v1). */
const PAIRS = [
  { ours: 'quality-on-demand.yaml', anchor: 'quality-on-demand.yaml', basePath: '/quality-on-demand/v1', version: '1.2.0' },
  { ours: 'qos-profiles.yaml', anchor: 'qos-profiles.yaml', basePath: '/qos-profiles/v1', version: '1.2.0' },
];

/**
 * What our documents may add to the anchors, and nothing else:
 * - request bodies close every object (CAMARA mandates refusing undeclared properties, but the
 *   anchors' schemas leave most objects open);
 * - 503 UNAVAILABLE on every operation (the store is unreachable), 413 PAYLOAD_TOO_LARGE and 415
 *   UNSUPPORTED_MEDIA_TYPE on operations with a body (answered before validation);
 * - catalog codes the gateway answers that an anchor status lacks (today the anchors list them all).
 */
const ALLOWANCE: ConformanceAllowance = {
  strictRequestBodies: true,
  extraResponses: (op) => ({
    '503': ['UNAVAILABLE'],
    ...(op.hasRequestBody ? { '413': ['PAYLOAD_TOO_LARGE'], '415': ['UNSUPPORTED_MEDIA_TYPE'] } : {}),
  }),
  extraErrorCodes: {
    createSession: { '409': ['CONFLICT'], '422': ['IDEMPOTENCY_KEY_REUSED'], '429': ['QUOTA_EXCEEDED', 'TOO_MANY_REQUESTS'] },
  },
  // Idempotency-Key on create: the gateway's retry safety (optional, so CAMARA clients are unaffected).
  extraParameters: (op) => (op.operationId === 'createSession' ? ['header idempotency-key'] : []),
};

/**
 * Deliberate deviations, undone before comparing so everything else must still match: the sink
 * pattern admits http because a development gateway delivers to loopback http sinks (production
 * refuses anything but https with 400 INVALID_SINK, tested in test/notify.test.ts).
 */
function withoutDeliberateDeviations(doc: ReturnType<typeof loadDocument>) {
  const sink = doc.components?.schemas?.Sink;
  if (sink?.pattern === '^https?:\\/\\/.+$') sink.pattern = '^https:\\/\\/.+$';
  return doc;
}

const ours = (file: string) => withoutDeliberateDeviations(loadDocument(join(OPENAPI_DIR, file)));
const anchor = (file: string) => parseYaml(readFileSync(join(ANCHORS, file), 'utf8'));

function collect(node: unknown, keys: string[], out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collect(n, keys, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (keys.includes(k) && typeof v === 'string') out.push(v);
      else collect(v, keys, out);
    }
  }
  return out;
}

describe('CAMARA conformance of our documents', function () {
  before(function () {
    if (!existsSync(ANCHORS)) {
      console.log(`    skipped: ${ANCHORS} is not present, so our documents cannot be compared with the CAMARA definitions here`);
      this.skip();
    }
  });

  for (const pair of PAIRS) {
    describe(`${pair.ours} against CAMARA ${pair.anchor}`, () => {
      it(`is served at ${pair.basePath} as version ${pair.version}, under our own title`, () => {
        const doc = ours(pair.ours);
        const theirs = anchor(pair.anchor);
        assert.equal(doc.servers?.[0]?.url, `{apiRoot}${pair.basePath}`);
        assert.equal(basePathOf(doc), pair.basePath);
        assert.equal(doc.info.version, pair.version);
        assert.ok(String(theirs.info.version).startsWith(pair.version), `the anchor is ${theirs.info.version}, not ${pair.version}`);
        assert.notEqual(doc.info.title, theirs.info.title);
      });

      it('is self-contained: every $ref is local and resolves', () => {
        const doc = ours(pair.ours);
        for (const ref of collect(doc, ['$ref'])) {
          assert.ok(ref.startsWith('#/'), `external $ref ${ref}`);
          const target = ref
            .slice(2)
            .split('/')
            .reduce<any>((n, k) => n?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
          assert.ok(target !== undefined, `unresolved $ref ${ref}`);
        }
      });

      it('has the operations, operationIds, scopes, parameters, bodies, statuses and error codes of the anchor', () => {
        const diffs = diffDocuments(ours(pair.ours), anchor(pair.anchor), ALLOWANCE);
        assert.deepEqual(diffs, [], `${pair.ours} differs from the anchor:\n  ${diffs.join('\n  ')}`);
      });

      it('is written in our own words (no description or summary copied from the anchor)', () => {
        const squash = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();
        const theirs = new Set(collect(anchor(pair.anchor), ['description', 'summary']).map(squash));
        const copied = collect(ours(pair.ours), ['description', 'summary'])
          .map(squash)
          .filter((s) => s.length >= 20 && theirs.has(s));
        assert.deepEqual(copied, []);
      });
    });
  }

  it('the comparison reports what breaks conformance, where it is', () => {
    const base = ours('quality-on-demand.yaml');
    const theirs = anchor('quality-on-demand.yaml');
    const cases: Array<[string, (d: any) => void, string]> = [
      ['a scope', (d) => (d.paths['/sessions/{sessionId}'].get.security = [{ openId: ['quality-on-demand:sessions:get'] }]), 'getSession (GET /sessions/{sessionId}): security lacks "openId[quality-on-demand:sessions:read]"'],
      ['an operationId', (d) => (d.paths['/sessions/{sessionId}'].get.operationId = 'readSession'), 'operationId is "readSession", the anchor has "getSession"'],
      ['an operation', (d) => delete d.paths['/retrieve-sessions'], 'POST /retrieve-sessions: operation retrieveSessionsByDevice is missing'],
      ['an undocumented status', (d) => (d.paths['/sessions/{sessionId}'].get.responses['500'] = d.components.responses.Generic503), 'getSession (GET /sessions/{sessionId}): response 500 is not in the anchor'],
      ['413 without a body', (d) => (d.paths['/sessions/{sessionId}'].get.responses['413'] = d.components.responses.Generic413), 'getSession (GET /sessions/{sessionId}): response 413 is not in the anchor'],
      ['a missing status', (d) => delete d.paths['/sessions/{sessionId}/extend'].post.responses['409'], 'extendQosSessionDuration (POST /sessions/{sessionId}/extend): response 409 is missing'],
      ['an added error code', (d) => d.components.responses.NotFound404.content['application/json'].schema.allOf[1].properties.code.enum.push('GONE'), 'getSession (GET /sessions/{sessionId}) 404: error codes add GONE'],
      ['a lost error code', (d) => (d.components.responses.SessionInConflict409.content['application/json'].schema.allOf[1].properties.code.enum = ['ALREADY_EXISTS']), 'createSession (POST /sessions) 409: error codes lack CONFLICT'],
      ['the code of an added status', (d) => (d.components.responses.Generic503.content['application/json'].schema.allOf[1].properties.code.enum = ['INTERNAL']), '503 body (the anchor\'s ErrorInfo with code UNAVAILABLE).code: enum lacks "UNAVAILABLE"'],
      ['a nested pattern', (d) => (d.components.schemas.PhoneNumber.pattern = '^\\+[0-9]{5,15}$'), 'createSession (POST /sessions) request application/json body.device.phoneNumber: pattern is'],
      ['a closed object reopened', (d) => delete d.components.schemas.ApplicationServerIpAddressList.additionalProperties, 'body.applicationServer.oneOf[0]: additionalProperties is absent in ours, false in the anchor'],
      ['a response closed', (d) => (d.components.schemas.SessionPortsSpec.additionalProperties = false), 'getSession (GET /sessions/{sessionId}) 200 application/json body.devicePorts: additionalProperties is false in ours, absent in the anchor'],
      ['writeOnly', (d) => delete d.components.schemas.AccessTokenCredential.properties.accessToken.writeOnly, 'body.sinkCredential.oneOf[0].accessToken: writeOnly is absent in ours, true in the anchor'],
      ['a discriminator value', (d) => (d.components.schemas.AccessTokenCredential.properties.credentialType.enum = ['PRIVATE_KEY_JWT']), 'body.sinkCredential.oneOf[0].credentialType: enum lacks "ACCESSTOKEN"'],
      ['a required property', (d) => (d.components.schemas.ExtendSessionDuration.required = []), 'extendQosSessionDuration (POST /sessions/{sessionId}/extend) request application/json body: required lacks "requestedAdditionalDuration"'],
      ['request body required', (d) => (d.paths['/retrieve-sessions'].post.requestBody.required = false), 'retrieveSessionsByDevice (POST /retrieve-sessions): request body required is false in ours, true in the anchor'],
      ['a parameter schema', (d) => (d.components.schemas.SessionId.maxLength = 64), 'parameter path sessionId: maxLength is 64 in ours, 36 in the anchor'],
      ['a response header', (d) => delete d.paths['/sessions'].post.responses['201'].headers, 'createSession (POST /sessions) 201: header x-correlator is missing'],
      ['a property', (d) => delete d.components.schemas.SessionInfo.allOf[2].properties.expiresAt, 'getSession (GET /sessions/{sessionId}) 200 application/json body: property expiresAt is missing'],
      ['the callback event', (d) => (d.components.schemas.EventQosStatus.enum = ['AVAILABLE']), 'createSession callback notifications: postNotification (POST {$request.body#/sink}) request application/cloudevents+json body.oneOf[0].data.qosStatus: enum lacks "UNAVAILABLE"'],
    ];
    for (const [what, mutate, expected] of cases) {
      const doc = structuredClone(base);
      mutate(doc);
      const diffs = diffDocuments(doc, theirs, ALLOWANCE);
      assert.ok(
        diffs.some((d) => d.includes(expected)),
        `changing ${what} should be reported as "${expected}", got:\n  ${diffs.join('\n  ') || '(nothing)'}`,
      );
    }
  });
});

describe('schema-diff', () => {
  const doc = (schemas: Record<string, unknown>) => ({ components: { schemas } });
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

  it('treats a flattened schema as the allOf composition it flattens, and ignores annotations', () => {
    const theirs = doc({
      Base: { type: 'object', description: 'theirs', properties: { a: { type: 'string', example: 'x' } }, required: ['a'] },
      Whole: { allOf: [ref('Base'), { type: 'object', properties: { b: { description: 'b', allOf: [ref('Small')] } }, required: ['b'] }] },
      Small: { type: 'integer', minimum: 1 },
    });
    const mine = doc({ Whole: { type: 'object', title: 'ours', required: ['b', 'a'], properties: { a: { type: 'string' }, b: { type: 'integer', minimum: 1 } } } });
    assert.deepEqual(diffSchemas({ doc: mine, schema: ref('Whole') }, { doc: theirs, schema: ref('Whole') }), []);
  });

  it('reads an inheritance discriminator as oneOf over its subtypes; closing them is allowed only when asked', () => {
    const theirs = doc({
      Pet: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: ['CAT', 'DOG'] } }, discriminator: { propertyName: 'kind', mapping: { CAT: '#/components/schemas/Cat', DOG: '#/components/schemas/Dog' } } },
      Cat: { allOf: [ref('Pet'), { properties: { lives: { type: 'integer' } }, required: ['lives'] }] },
      Dog: { allOf: [ref('Pet'), { properties: { barks: { type: 'boolean' } } }] },
    });
    const mine = doc({
      Pet: { oneOf: [ref('Dog'), ref('Cat')], discriminator: { propertyName: 'kind', mapping: { CAT: '#/components/schemas/Cat', DOG: '#/components/schemas/Dog' } } },
      Cat: { type: 'object', additionalProperties: false, required: ['kind', 'lives'], properties: { kind: { type: 'string', enum: ['CAT'] }, lives: { type: 'integer' } } },
      Dog: { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { type: 'string', enum: ['DOG'] }, barks: { type: 'boolean' } } },
    });
    assert.deepEqual(diffSchemas({ doc: mine, schema: ref('Pet') }, { doc: theirs, schema: ref('Pet') }, 'pet', { allowClosedObjects: true }), []);
    const strict = diffSchemas({ doc: mine, schema: ref('Pet') }, { doc: theirs, schema: ref('Pet') }, 'pet');
    assert.ok(strict.some((d) => d.startsWith('pet.oneOf[') && d.includes('additionalProperties is false in ours, absent in the anchor')), strict.join('\n'));
  });

  it('allows only the additions an allowance names: optional parameters, statuses, error codes', () => {
    const error = (codes: string[]) => ({
      description: 'error',
      content: { 'application/json': { schema: { allOf: [ref('ErrorInfo'), { properties: { code: { enum: codes } } }] } } },
    });
    const api = (op: Record<string, unknown>) => ({
      paths: { '/things': { post: { operationId: 'make', requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, ...op } } },
      components: { schemas: { ErrorInfo: { type: 'object', required: ['code'], properties: { code: { type: 'string' } } } } },
    });
    const theirs = api({ responses: { '400': error(['INVALID_ARGUMENT']) } });
    const mine = api({
      parameters: [
        { name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } },
        { name: 'x-tenant', in: 'header', required: true, schema: { type: 'string' } },
      ],
      responses: { '400': error(['INVALID_ARGUMENT', 'OUT_OF_RANGE', 'FOO']), '503': error(['UNAVAILABLE']), '500': error(['INTERNAL']) },
    });
    const diffs = diffDocuments(mine, theirs, {
      extraParameters: () => ['header idempotency-key', 'header x-tenant'],
      extraResponses: (op): Record<string, string[]> => (op.hasRequestBody ? { '503': ['UNAVAILABLE'] } : {}),
      extraErrorCodes: { make: { '400': ['OUT_OF_RANGE'] } },
    });
    assert.deepEqual(diffs, [
      'make (POST /things): added parameter header x-tenant must be optional',
      'make (POST /things) 400: error codes add FOO, which the allowance does not permit',
      'make (POST /things): response 500 is not in the anchor and not an allowed addition',
    ]);
  });

  it('names the place and the values that differ, including a property called "description"', () => {
    const theirs = doc({ P: { type: 'object', properties: { description: { type: 'string', maxLength: 10 }, unit: { type: 'string', enum: ['s', 'ms'] } } } });
    const mine = doc({ P: { type: 'object', properties: { description: { type: 'string', maxLength: 20 }, unit: { type: 'string', enum: ['ms', 'us'] }, extra: { type: 'string' } } } });
    assert.deepEqual(diffSchemas({ doc: mine, schema: ref('P') }, { doc: theirs, schema: ref('P') }, 'p').sort(), [
      'p.description: maxLength is 20 in ours, 10 in the anchor',
      'p.unit: enum adds "us"',
      'p.unit: enum lacks "s"',
      'p: property extra is not in the anchor',
    ]);
  });
});

describe('formats and strict bodies under the gateway validator', () => {
  const backendOf = async (file: string) => (await documents()).find((d) => d.file === file)!.backend;
  const session = { applicationServer: { ipv4Address: '198.51.100.0/24' }, qosProfile: 'QOS_L', duration: 3600 };
  const accessToken = { credentialType: 'ACCESSTOKEN', accessToken: 'secret', accessTokenType: 'bearer', accessTokenExpiresUtc: '2030-06-01T12:00:00Z' };

  it('knows every format our documents use, as the gateway configures ajv', async () => {
    const used = new Set(PAIRS.flatMap((p) => collect(ours(p.ours), ['format'])));
    for (const f of ['date-time', 'uri', 'ipv4', 'ipv6', 'uuid', 'int32']) assert.ok(used.has(f), `${f} is not used, the probes below mean nothing for it`);
    for (const p of PAIRS) {
      const ajv = (await backendOf(p.ours)).validator.getAjv(ValidationContext.RequestBody);
      for (const f of used) assert.ok(ajv.formats[f], `${p.ours}: format ${f} is unknown to the validator, so it would not be enforced`);
      const int32 = ajv.compile({ type: 'integer', format: 'int32' });
      assert.deepEqual([2147483647, -2147483648, 2147483648, -2147483649].map((n) => int32(n)), [true, true, false, false]);
    }
  });

  it('createSession bodies: formats, patterns, bounds and closed objects are enforced', async () => {
    const backend = await backendOf('quality-on-demand.yaml');
    const probes: Array<[string, unknown, boolean]> = [
      ['minimal', session, true],
      ['device by IPv4 and port', { ...session, device: { ipv4Address: { publicAddress: '203.0.113.7', publicPort: 59765 } } }, true],
      ['device IPv4 not an address (ipv4)', { ...session, device: { ipv4Address: { publicAddress: '256.1.1.1', publicPort: 1 } } }, false],
      ['device IPv4 alone', { ...session, device: { ipv4Address: { publicAddress: '203.0.113.7' } } }, false],
      ['device IPv6 (ipv6)', { ...session, device: { ipv6Address: '2001:db8:85a3::7344' } }, true],
      ['device IPv6 not an address (ipv6)', { ...session, device: { ipv6Address: 'zz::1' } }, false],
      ['phone number without +', { ...session, device: { phoneNumber: '123456789' } }, false],
      ['server address list', { ...session, applicationServer: { ipAddresses: ['198.51.100.1', '2001:db8::1'] } }, true],
      ['server address list with a name', { ...session, applicationServer: { ipAddresses: ['example.com'] } }, false],
      ['server list and subnet together', { ...session, applicationServer: { ipAddresses: ['198.51.100.1'], ipv4Address: '198.51.100.0/24' } }, false],
      ['port 0', { ...session, devicePorts: { ports: [0] } }, false],
      ['duration above int32', { ...session, duration: 2147483648 }, false],
      ['fractional duration', { ...session, duration: 1.5 }, false],
      ['https sink (uri)', { ...session, sink: 'https://app.example.com/notify', sinkCredential: accessToken }, true],
      ['sink with a space (uri)', { ...session, sink: 'https://app.example .com/notify' }, false],
      // http passes the schema (loopback sinks in development); the sink policy refuses the rest (400 INVALID_SINK).
      ['http sink', { ...session, sink: 'http://app.example.com/notify' }, true],
      ['ftp sink', { ...session, sink: 'ftp://app.example.com/notify' }, false],
      ['token expiry without time zone (date-time)', { ...session, sinkCredential: { ...accessToken, accessTokenExpiresUtc: '2030-06-01T12:00:00' } }, false],
      ['ACCESSTOKEN without token', { ...session, sinkCredential: { credentialType: 'ACCESSTOKEN' } }, false],
      ['PRIVATE_KEY_JWT', { ...session, sinkCredential: { credentialType: 'PRIVATE_KEY_JWT', clientId: 'c', tokenUri: 'https://as.example.com/token' } }, true],
      ['PRIVATE_KEY_JWT with a token', { ...session, sinkCredential: { credentialType: 'PRIVATE_KEY_JWT', accessToken: 'x' } }, false],
      ['unknown credential type', { ...session, sinkCredential: { credentialType: 'PLAIN' } }, false],
      ['unknown top-level property', { ...session, priority: 1 }, false],
      ['unknown nested property', { ...session, device: { phoneNumber: '+123456789', imsi: '1' } }, false],
    ];
    const wrong = probes
      .map(([what, body, valid]) => {
        const result = backend.validateRequest({ method: 'post', path: '/quality-on-demand/v1/sessions', headers: { 'content-type': 'application/json' }, query: {}, body } as never);
        return result.valid === valid ? undefined : `${what}: expected ${valid ? 'valid' : 'invalid'}, got ${JSON.stringify(result.errors)}`;
      })
      .filter(Boolean);
    assert.deepEqual(wrong, []);
  });

  it('path parameters and responses: uuid and date-time are enforced', async () => {
    const backend = await backendOf('quality-on-demand.yaml');
    const get = (id: string) => backend.validateRequest({ method: 'get', path: `/quality-on-demand/v1/sessions/${id}`, headers: {}, query: {} } as never).valid;
    assert.equal(get('3fa85f64-5717-4562-b3fc-2c963f66afa6'), true);
    assert.equal(get('not-a-uuid'), false);
    const operation = backend.router.getOperation('getSession')!;
    const info = { sessionId: '3fa85f64-5717-4562-b3fc-2c963f66afa6', applicationServer: { ipv4Address: '0.0.0.0/0' }, qosProfile: 'QOS_L', duration: 3600, qosStatus: 'AVAILABLE', startedAt: '2024-06-01T12:00:00Z', expiresAt: '2024-06-01T13:00:00+02:00' };
    assert.equal(backend.validateResponse(info, operation, 200).errors, null);
    assert.ok(backend.validateResponse({ ...info, startedAt: '2024-06-01 12:00' }, operation, 200).errors);
    assert.ok(backend.validateResponse({ ...info, device: { phoneNumber: '+123456789', ipv6Address: '2001:db8::1' } }, operation, 200).errors, 'a session names one device identifier');
    assert.ok(backend.validateResponse({ status: 503, code: 'UNAVAILABLE', message: 'x' }, operation, 503).errors === null);
    assert.ok(backend.validateResponse({ status: 503, code: 'INTERNAL', message: 'x' }, operation, 503).errors);
  });

  it('retrieveQoSProfiles bodies are closed too', async () => {
    const backend = await backendOf('qos-profiles.yaml');
    const valid = (body: unknown) =>
      backend.validateRequest({ method: 'post', path: '/qos-profiles/v1/retrieve-qos-profiles', headers: { 'content-type': 'application/json' }, query: {}, body } as never).valid;
    assert.equal(valid({}), true);
    assert.equal(valid({ status: 'ACTIVE', device: { ipv6Address: '2001:db8::1' } }), true);
    assert.equal(valid({ status: 'ACTIVE', owner: 'x' }), false);
    assert.equal(valid({ device: { ipv4Address: { publicAddress: '203.0.113.7', publicPort: 1, nat: true } } }), false);
  });
});
