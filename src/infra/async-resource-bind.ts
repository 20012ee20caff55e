/**
 * `AsyncResource#bind` without the deprecated `asyncResource` accessor (DEP0172).
 *
 * Node 20 defines a getter and a setter named `asyncResource` on every function `bind` returns.
 * V8 keeps such an accessor in an AccessorPair, which it allocates in the old generation; dead, it
 * still holds the getter's closure, whose context holds the bound function's target, so whatever
 * that reaches survives every young-generation collection until a full one. node:http2 binds one
 * function per client request (`ClientHttp2Session#request`), reaching the request's stream: each
 * N5 request and each N5 notification was promoted whole, about 5 KB apiece, and the processes
 * making them needed a mark-compact every few seconds under load. Node removed the property in a
 * later major (DEP0172 End-of-Life); this does the same here, and nothing where it is gone already.
 *
 * Imported for its effect by the modules that make HTTP/2 requests.
 */
import { AsyncResource } from 'node:async_hooks';

type Fn = (...args: unknown[]) => unknown;

/** Whether this Node still adds the accessor (probed once, without reading it). */
export const hadAsyncResourceAccessor = Object.getOwnPropertyDescriptor(new AsyncResource('probe').bind(() => {}), 'asyncResource') !== undefined;

if (hadAsyncResourceAccessor) {
  AsyncResource.prototype.bind = function bind<F extends Fn>(this: AsyncResource, fn: F, thisArg?: unknown): F {
    if (typeof fn !== 'function') throw Object.assign(new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`), { code: 'ERR_INVALID_ARG_TYPE' });
    const resource = this;
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]) {
            return resource.runInAsyncScope(fn, this, ...args);
          }
        : resource.runInAsyncScope.bind(resource, fn, thisArg);
    // A data property, as Node sets it: no accessor.
    Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
    return bound as F;
  } as AsyncResource['bind'];
}
