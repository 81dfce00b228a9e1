/**
 * Disclosure control for the public totals. Pure: the noise source is injected.
 *
 * The unit is a *partition*: cells that add up to a known total. Every table Beacon
 * publishes is made of partitions of the installation count N:
 *   - a single-valued field: one cell per label, plus the "absent" cell (not reported);
 *   - a feature: [installations that have it, installations that do not];
 *   - established: [established, new].
 *
 * Rules (k = threshold, default 5):
 *   1. Primary suppression: every cell with a count below k is suppressed, zero
 *      included. Zeros are hidden too so that "suppressed" never means "at least one":
 *      publishing 0 next to a suppressed cell would reveal that a rare configuration exists.
 *   2. Complementary suppression: the hidden mass H (sum of suppressed cells, which anyone
 *      can compute as total - published cells) must be 0 or at least k. While 0 < H < k
 *      the smallest published cell is suppressed too. So subtraction never yields a group
 *      of 1..k-1 installations, and a lone suppressed cell is only ever a known 0.
 *   3. A window with fewer than k installations publishes only that fact (handled by
 *      the caller, compute.ts).
 * Different fields are separate partitions of the same N; their cells never combine
 * linearly into one another, so each field is protected on its own. Differences between
 * overlapping windows (a day vs its week) are not protected by this module; optional
 * noise (below) is the defence against such differencing.
 *
 * Optional Laplace noise (config `epsilon`, off by default): every true count c is
 * replaced by max(0, round(c + Laplace(1/epsilon))) *before* the rules above run, so
 * suppression decisions are post-processing of noisy counts. Each count has sensitivity 1;
 * one installation touches one cell per field, each feature it has, N and established,
 * so its total privacy loss is epsilon times that number of counts (sequential composition).
 * The noise is drawn per cell from a deterministic source keyed by the cell and its true
 * count, so asking again does not average it away.
 */

export const DEFAULT_K = 5;

/** Returns, for each cell, whether it is suppressed. */
export function suppressPartition(counts: readonly number[], k: number): boolean[] {
  const hidden = counts.map((c) => c < k);
  let mass = counts.reduce((s, c, i) => (hidden[i] ? s + c : s), 0);
  while (mass > 0 && mass < k) {
    // Suppress the smallest published cell (first one on ties, so the result is deterministic).
    let pick = -1;
    counts.forEach((c, i) => {
      if (!hidden[i] && (pick < 0 || c < counts[pick]!)) pick = i;
    });
    if (pick < 0) break; // everything hidden already: the partition total itself is below k
    hidden[pick] = true;
    mass += counts[pick]!;
  }
  return hidden;
}

/** Noise added to one true count; `cell` names it uniquely within the published document. */
export type NoiseSource = (cell: string, count: number) => number;

export interface NoiseOptions {
  epsilon: number;
  /** Laplace(0, 1/epsilon) samples; see laplaceFromUniform and hmacNoise. */
  sample: NoiseSource;
}

/** Inverse CDF of Laplace(0, scale) at u in (0, 1). */
export function laplaceFromUniform(u: number, scale: number): number {
  const v = Math.min(Math.max(u, 1e-12), 1 - 1e-12) - 0.5;
  return -scale * Math.sign(v) * Math.log(1 - 2 * Math.abs(v));
}

/** Applies noise to a true count: rounded, never negative. Identity when noise is off. */
export function noisy(count: number, cell: string, noise: NoiseOptions | undefined): number {
  if (!noise) return count;
  return Math.max(0, Math.round(count + noise.sample(cell, count)));
}
