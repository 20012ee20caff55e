/**
 * One frozen copy of each distinct small value that many long-lived records carry (an ARP, the
 * features negotiated with an AF, a notification URI): a simulator holding tens of thousands of
 * bearers then keeps a few shared values rather than one each, and the garbage collector has that
 * much less to trace.
 */
import type { Arp } from '../bearer-controller/types.ts';

export class Shared<T> {
  private readonly known = new Map<string, Readonly<T>>();

  /** At most `limit` values are kept, whatever clients send; past it a value is simply frozen. */
  constructor(
    private readonly keyOf: (value: T) => string,
    private readonly copy: (value: T) => T = (value) => ({ ...(value as object) }) as T,
    private readonly limit = 1024,
  ) {}

  of(value: T): Readonly<T> {
    const key = this.keyOf(value);
    const known = this.known.get(key);
    if (known) return known;
    const frozen = Object.freeze(this.copy(value));
    if (this.known.size < this.limit) this.known.set(key, frozen);
    return frozen;
  }
}

/** ARPs by value: priority level and pre-emption flags (TS 23.501 §5.7.2.2). */
export const sharedArps = new Shared<Arp>((a) => `${a.priorityLevel}|${a.preemptCap}|${a.preemptVuln}`);

/** A 32-bit FNV-1a hash of a string: a cheap first test before comparing long texts. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Lists of numbers by value (the fNums of a media component). */
export const sharedNumberLists = new Shared<number[]>((list) => list.join(','), (list) => [...list]);

/** Strings by value (notification URIs, UE addresses), at most `limit` kept. */
export const sharedStrings = (limit: number): Shared<string> => new Shared<string>((text) => text, (text) => text, limit);
