/**
 * How many inputs each fuzz property gets: 100,000 by default, so `npm test` checks every parser with that many while
 * staying fast; the `FUZZ_RUNS` environment variable raises it (`npm run fuzz` sets millions).
 */
export function fuzzRuns(defaultRuns = 100_000): number {
  const fromEnv = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultRuns;
}
