/** Options of the network model, with their defaults spread in one place ({@link withDefaults}). */

export interface ModelOptions {
  /** Seed of every random draw. @defaultValue 1 */
  seed: number;
  /** Multiplies every simulated delay; 0 = none (outcomes still arrive asynchronously). @defaultValue 1 */
  timeScale: number;
  /** Number of cells, `cell-0`... @defaultValue 20 */
  cells: number;
  /** GBR capacity of a cell, bit/s. @defaultValue 50_000_000 */
  cellCapacityDl: number;
  /** @defaultValue 20_000_000 */
  cellCapacityUl: number;
  /** Share of the capacity admission control hands out. @defaultValue 0.9 */
  admissionThreshold: number;
  /** @defaultValue 100 */
  maxGbrBearersPerCell: number;
}

export const MODEL_DEFAULTS: Readonly<ModelOptions> = {
  seed: 1,
  timeScale: 1,
  cells: 20,
  cellCapacityDl: 50_000_000,
  cellCapacityUl: 20_000_000,
  admissionThreshold: 0.9,
  maxGbrBearersPerCell: 100,
};

export function withDefaults(options: Partial<ModelOptions>): ModelOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const merged: ModelOptions = { ...MODEL_DEFAULTS, ...given };
  const bad = Object.entries(merged).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad) throw new RangeError(`bearer controller option ${bad[0]} must be a finite number ≥ 0`);
  if (!Number.isInteger(merged.cells) || merged.cells < 1) throw new RangeError('bearer controller option cells must be an integer ≥ 1');
  return merged;
}

