/**
 * The statistics of the AWS model: a seeded PRNG, so every run prints the same figures, and
 * lognormals fitted through published quantiles. Pure.
 */

/** A seeded uniform PRNG on [0, 1) (mulberry32): small, fast, and the same on every machine. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller; uses two uniforms, keeps no state). */
export function standardNormal(random: () => number): number {
  const u1 = 1 - random(); // (0, 1]: log(0) never happens
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** The 0.99 and 0.90 quantiles of the standard normal. */
export const Z99 = 2.3263478740408408;
export const Z90 = 1.2815515655446004;

/** `shift + exp(mu + sigma * Z)`: a lognormal, moved right by a floor no sample goes below. */
export interface LogNormal {
  readonly mu: number;
  readonly sigma: number;
  readonly shift: number;
}

/** The lognormal whose median is `p50` and whose 99th percentile is `p99`. */
export function fitLogNormal(p50: number, p99: number): LogNormal {
  if (!(p50 > 0 && p99 >= p50)) throw new RangeError(`need 0 < p50 <= p99, got p50=${p50} p99=${p99}`);
  return { mu: Math.log(p50), sigma: (Math.log(p99) - Math.log(p50)) / Z99, shift: 0 };
}

/**
 * The shifted lognormal through three published quantiles p10 < p50 < p99: the shift is found by
 * bisection so that the spread below and above the median imply the same sigma. When the data are
 * no tighter below the median than a plain lognormal allows, the shift is 0 (the p50/p99 fit).
 */
export function fitShiftedLogNormal(p10: number, p50: number, p99: number): LogNormal {
  if (!(p10 > 0 && p10 < p50 && p50 < p99)) throw new RangeError(`need 0 < p10 < p50 < p99, got ${p10}, ${p50}, ${p99}`);
  const mismatch = (shift: number) =>
    Math.log((p99 - shift) / (p50 - shift)) / Z99 - Math.log((p50 - shift) / (p10 - shift)) / Z90;
  if (mismatch(0) <= 0) return fitLogNormal(p50, p99);
  let low = 0;
  let high = p10;
  for (let i = 0; i < 200; i += 1) {
    const mid = (low + high) / 2;
    if (mismatch(mid) > 0) low = mid;
    else high = mid;
  }
  const shift = (low + high) / 2;
  return { mu: Math.log(p50 - shift), sigma: Math.log((p99 - shift) / (p50 - shift)) / Z99, shift };
}

/** The q-quantile of a fitted distribution, given the standard normal's q-quantile `z`. */
export function logNormalQuantile(dist: LogNormal, z: number): number {
  return dist.shift + Math.exp(dist.mu + dist.sigma * z);
}

export function sampleLogNormal(dist: LogNormal, random: () => number): number {
  return dist.shift + Math.exp(dist.mu + dist.sigma * standardNormal(random));
}

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}
