/**
 * Settings of the property-based tests: in `npm test` a fixed seed and a bounded number of cases per property (each
 * test gives its own); `npm run test:fuzz -- --runs N [--seed S]` runs N cases each (it sets the variables below).
 */
import type { Parameters } from 'fast-check';

/** The seed `npm test` uses, so that a run is repeatable (fast-check prints the seed and path of a failure). */
export const FIXED_SEED = 20261130;

export function fuzzParameters<T>(defaultRuns: number): Parameters<T> & { numRuns: number; seed: number } {
  const runs = Number(process.env.SERVER_WORKERS_FUZZ_RUNS);
  const seed = Number(process.env.SERVER_WORKERS_FUZZ_SEED);
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns,
    seed: Number.isInteger(seed) ? seed : FIXED_SEED,
  };
}
