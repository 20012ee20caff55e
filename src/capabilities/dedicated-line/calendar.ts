/**
 * Admission over time on one line: at every instant, the committed bandwidth plus every boost in
 * force or booked at that instant must stay within the line's limit (its port capacity, and the
 * plan's ceiling when lower). Pure functions over the line's bookings; times are epoch ms and a
 * booking holds the half-open window [start, end), so one ending at T and another starting at T
 * never overlap.
 */

/** A boost booked on a line. */
export interface Booking {
  id: string;
  start: number;
  end: number;
  mbps: number;
}

/** What bounds a line's bandwidth. */
export interface LineLimits {
  committedMbps: number;
  portCapacityMbps: number;
  /** The plan's ceiling on the line's total bandwidth, when it has one. */
  planMaxMbps?: number;
}

/** Where a request does not fit: the first window in which the line would carry too much. */
export interface Conflict {
  from: number;
  to: number;
  limit: 'PORT_CAPACITY' | 'PLAN_LIMIT';
  limitMbps: number;
  /** What the line would have to carry in that window (committed + booked + requested). */
  requiredMbps: number;
}

export type Verdict = { fits: true } | { fits: false; conflict: Conflict };

/** The binding limit: the lower of the port capacity and the plan's ceiling. */
export function limitOf(l: LineLimits): { limit: Conflict['limit']; limitMbps: number } {
  if (l.planMaxMbps !== undefined && l.planMaxMbps < l.portCapacityMbps) return { limit: 'PLAN_LIMIT', limitMbps: l.planMaxMbps };
  return { limit: 'PORT_CAPACITY', limitMbps: l.portCapacityMbps };
}

/**
 * The booked bandwidth over [from, to) as constant pieces: each piece is a window and the sum of
 * the boosts that hold all of it. Only pieces with something booked are returned, in time order.
 */
export function loadProfile(bookings: readonly Booking[], from: number, to: number): Array<{ from: number; to: number; mbps: number }> {
  const inside = bookings.filter((b) => b.start < to && b.end > from);
  const edges = [...new Set([from, to, ...inside.flatMap((b) => [b.start, b.end]).filter((t) => t > from && t < to)])].sort((a, b) => a - b);
  const pieces: Array<{ from: number; to: number; mbps: number }> = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const a = edges[i];
    const b = edges[i + 1];
    const mbps = inside.reduce((sum, x) => (x.start <= a && x.end >= b ? sum + x.mbps : sum), 0);
    if (mbps > 0) pieces.push({ from: a, to: b, mbps });
  }
  return pieces;
}

/** Does a boost of `mbps` over [start, end) fit next to the bookings (those with `ignore` left out)? */
export function check(bookings: readonly Booking[], candidate: Omit<Booking, 'id'>, limits: LineLimits, ignore?: string): Verdict {
  const { limit, limitMbps } = limitOf(limits);
  const others = ignore ? bookings.filter((b) => b.id !== ignore) : bookings;
  const base = limits.committedMbps + candidate.mbps;
  if (base > limitMbps) return { fits: false, conflict: { from: candidate.start, to: candidate.end, limit, limitMbps, requiredMbps: base } };
  for (const piece of loadProfile(others, candidate.start, candidate.end)) {
    const required = base + piece.mbps;
    if (required > limitMbps) return { fits: false, conflict: { from: piece.from, to: piece.to, limit, limitMbps, requiredMbps: required } };
  }
  return { fits: true };
}

/**
 * The earliest start at or after `notBefore` at which a boost of `mbps` for `durationMs` fits, no
 * later than `latestStart`; undefined when there is none. Capacity only frees up when a booking
 * ends, so the only starts worth trying are `notBefore` and the ends of bookings after it.
 */
export function earliestStart(bookings: readonly Booking[], mbps: number, durationMs: number, limits: LineLimits, notBefore: number, latestStart: number): number | undefined {
  if (limits.committedMbps + mbps > limitOf(limits).limitMbps) return undefined;
  const starts = [notBefore, ...bookings.map((b) => b.end).filter((t) => t > notBefore)].sort((a, b) => a - b);
  for (const start of starts) {
    if (start > latestStart) return undefined;
    if (check(bookings, { start, end: start + durationMs, mbps }, limits).fits) return start;
  }
  return undefined;
}

/** A conflict in words, for the 409 and the assessment: the window and the limit it breaks. */
export function describeConflict(c: Conflict): string {
  const what = c.limit === 'PORT_CAPACITY' ? 'port capacity' : "plan's maximum line bandwidth";
  return `from ${new Date(c.from).toISOString()} to ${new Date(c.to).toISOString()} the line would carry ${c.requiredMbps} Mbps (committed bandwidth, booked boosts and this request), above its ${what} of ${c.limitMbps} Mbps`;
}
