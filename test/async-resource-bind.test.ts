import assert from 'node:assert/strict';
import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { hadAsyncResourceAccessor } from '../src/infra/async-resource-bind.ts';
import '../adapters/n5/h2c-client.ts';

describe('AsyncResource#bind, as the HTTP/2 clients use it', () => {
  // Node 20 put a deprecated `asyncResource` getter and setter (DEP0172) on each bound function.
  // V8 keeps an accessor in an AccessorPair allocated in the old generation: dead, it kept the
  // getter's closure, and through it the bound target, alive through every young collection.
  // node:http2 binds one function per client request, so each N5 request's stream was promoted.
  it('returns functions with no accessor of their own once the N5 client is loaded', () => {
    const bound = new AsyncResource('test').bind(() => 1);
    const own = Object.getOwnPropertyNames(bound).map((name) => [name, Object.getOwnPropertyDescriptor(bound, name)!] as const);
    for (const [name, d] of own) assert.equal(d.get ?? d.set, undefined, `${name} is an accessor`);
    assert.equal('asyncResource' in bound, false);
    if (!hadAsyncResourceAccessor) console.log('      (this Node adds no accessor of its own; nothing was replaced)');
  });

  it('still runs the function in the resource’s async scope, with its arguments, this and length', () => {
    const resource = new AsyncResource('test');
    const seen: unknown[] = [];
    const target = function (this: unknown, a: number, b: number) {
      seen.push(executionAsyncId(), this, a + b);
      return a * b;
    };
    const bound = resource.bind(target);
    assert.equal(bound.length, 2);
    const self = { me: true };
    assert.equal(bound.call(self, 3, 4), 12);
    assert.deepEqual(seen, [resource.asyncId(), self, 7]);

    // bind(fn, thisArg): Node's signature, wider than its type declaration.
    const bindWith = resource.bind.bind(resource) as unknown as (fn: typeof target, thisArg: unknown) => typeof target;
    const withThis = bindWith(target, self);
    seen.length = 0;
    assert.equal(withThis(2, 5), 10);
    assert.deepEqual(seen, [resource.asyncId(), self, 7]);

    const viaStatic = AsyncResource.bind(() => executionAsyncId());
    assert.notEqual(viaStatic(), executionAsyncId());
    assert.throws(() => resource.bind('nope' as unknown as () => void), { name: 'TypeError' });
  });
});
