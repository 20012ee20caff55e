import type { Redis } from 'ioredis';
import { EXPIRY_JOB_HORIZON_MS } from '../../src/capabilities/qod/lifecycle.ts';

/** `used_memory` of INFO memory: what the allocator holds for data and overhead, bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** One kind of key and what its keys hold (MEMORY USAGE ... SAMPLES 0, summed). */
export interface MemoryCategory {
  name: string;
  /** True when it grows with the number of sessions; false for bounded or fixed structures. */
  perSession: boolean;
  keys: number;
  bytes: number;
}

interface Rule {
  name: string;
  perSession: boolean;
  test: RegExp;
}

// Keys are matched without the gateway's prefix. BullMQ job hashes are `q:<queue>:<jobId>`, and
// our job ids start with what the job is for (capabilities/qod/lifecycle.ts, notify/chains.ts).
const RULES: Rule[] = [
  { name: 'session records (JSON)', perSession: true, test: /^qod:s:/ },
  { name: 'UE index (active sessions of a device)', perSession: true, test: /^qod:ue:/ },
  { name: 'client-device index', perSession: true, test: /^qod:cdev:/ },
  { name: 'plan slots (one set per application)', perSession: true, test: /^slots:/ },
  { name: 'expiry schedule (sorted set)', perSession: true, test: /^qod:expiring$/ },
  { name: `expiry jobs of sessions ending within ${EXPIRY_JOB_HORIZON_MS / 1000} s (BullMQ hashes)`, perSession: true, test: /^q:quality-on-demand:exp-/ },
  { name: 'BullMQ delayed set (those expiry jobs)', perSession: true, test: /^q:quality-on-demand:delayed$/ },
  { name: 'finished jobs kept by removeOnComplete (bounded)', perSession: false, test: /^q:[^:]+:(act|rto|nev|rel|del|notify)-/ },
  { name: 'finished-job indexes (completed/failed zsets, bounded)', perSession: false, test: /^q:[^:]+:(completed|failed)$/ },
  { name: 'queue event streams (capped)', perSession: false, test: /^q:[^:]+:events$/ },
  { name: 'notification chains (emptied on delivery)', perSession: false, test: /^notify:/ },
];
const OTHER: Rule = { name: 'everything else (tenancy, profiles, queue metadata, usage)', perSession: false, test: /.*/ };

/**
 * Walks every key under `prefix` and sums MEMORY USAGE by kind (exact: SAMPLES 0). The sum is
 * close to, not equal to, the change in used_memory: it leaves out Redis's own structures
 * (the main dictionary's table, the expires table, client buffers).
 */
export async function breakdown(redis: Redis, prefix: string, sessions: number): Promise<{ categories: MemoryCategory[]; sessionJsonBytes: number }> {
  const totals = new Map<Rule, MemoryCategory>();
  let jsonBytes = 0;
  let jsonCount = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const key of keys) pipe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const sessionKeys = keys.filter((k) => k.startsWith(`${prefix}:qod:s:`));
    for (const key of sessionKeys) pipe.strlen(key);
    const replies = (await pipe.exec()) ?? [];
    keys.forEach((key, i) => {
      const local = key.slice(prefix.length + 1);
      const rule = RULES.find((r) => r.test.test(local)) ?? OTHER;
      const c = totals.get(rule) ?? { name: rule.name, perSession: rule.perSession, keys: 0, bytes: 0 };
      c.keys++;
      c.bytes += Number(replies[i]?.[1] ?? 0);
      totals.set(rule, c);
    });
    sessionKeys.forEach((_, j) => {
      jsonBytes += Number(replies[keys.length + j]?.[1] ?? 0);
      jsonCount++;
    });
  } while (cursor !== '0');
  const categories = [...RULES, OTHER].map((r) => totals.get(r)).filter((c): c is MemoryCategory => !!c);
  if (jsonCount !== sessions) throw new Error(`expected ${sessions} session records, found ${jsonCount}`);
  return { categories, sessionJsonBytes: jsonBytes / Math.max(1, jsonCount) };
}
