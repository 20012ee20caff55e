/** Options of the line model, with their defaults spread in one place ({@link withDefaults}). */

export interface LineModelOptions {
  /** Seed of every random draw. @defaultValue 1 */
  seed: number;
  /** Multiplies every simulated delay; 0 = none (outcomes still arrive asynchronously). @defaultValue 1 */
  timeScale: number;
  /** Real time between two performance samples of a line, ms (at least 20). @defaultValue max(20, 1000 × timeScale) */
  sampleIntervalMs: number;
  /** Time the OSS takes to assess an order before working on it, ms before `timeScale`. @defaultValue 200 */
  ackDelayMs: number;
  /** Time to carry a feasible order out, drawn in [min, max], ms before `timeScale`. @defaultValue 1500 */
  executionMinMs: number;
  /** @defaultValue 3000 */
  executionMaxMs: number;
  /** Samples kept per line, newest. @defaultValue 600 */
  maxSamples: number;
  /** Orders kept for `GET`; the oldest finished ones are forgotten first. @defaultValue 10_000 */
  keepOrders: number;
}

/** Below this a sample interval only measures the event loop. */
export const MIN_SAMPLE_INTERVAL_MS = 20;

export const MODEL_DEFAULTS: Readonly<Omit<LineModelOptions, 'sampleIntervalMs'>> = {
  seed: 1,
  timeScale: 1,
  ackDelayMs: 200,
  executionMinMs: 1500,
  executionMaxMs: 3000,
  maxSamples: 600,
  keepOrders: 10_000,
};

export function withDefaults(options: Partial<LineModelOptions>): LineModelOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const timeScale = typeof given.timeScale === 'number' ? given.timeScale : MODEL_DEFAULTS.timeScale;
  const merged: LineModelOptions = {
    ...MODEL_DEFAULTS,
    sampleIntervalMs: Math.max(MIN_SAMPLE_INTERVAL_MS, 1000 * timeScale),
    ...given,
  };
  const bad = Object.entries(merged).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad) throw new RangeError(`line controller option ${bad[0]} must be a finite number ≥ 0`);
  if (merged.sampleIntervalMs < MIN_SAMPLE_INTERVAL_MS) throw new RangeError(`line controller option sampleIntervalMs must be at least ${MIN_SAMPLE_INTERVAL_MS}`);
  if (merged.executionMaxMs < merged.executionMinMs) throw new RangeError('line controller option executionMaxMs must be ≥ executionMinMs');
  for (const key of ['maxSamples', 'keepOrders'] as const) {
    if (!Number.isInteger(merged[key]) || merged[key] < 1) throw new RangeError(`line controller option ${key} must be an integer ≥ 1`);
  }
  return merged;
}
