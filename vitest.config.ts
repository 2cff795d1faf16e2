import { defineConfig } from 'vitest/config';

// Three kinds of test:
// - unit:  `*.test.ts` — pure, fast, run in parallel everywhere.
// - fuzz:  `*.fuzz.test.ts` — property-based fuzzing of parsers (FUZZ_RUNS scales them up for `npm run fuzz`).
// - netns: `*.netns.test.ts` — real kernel parts (network namespaces, TUN, wireguard-go, dnsmasq); need root and
//          run one file at a time because they create interfaces and namespaces. They skip with a printed reason
//          when the machine cannot run them.
const shared = ['dist/**', 'node_modules/**', 'native/build/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts', '**/*.test.tsx'],
          exclude: [...shared, '**/*.fuzz.test.ts', '**/*.netns.test.ts', 'e2e/playwright/**'],
        },
      },
      {
        test: {
          name: 'fuzz',
          include: ['**/*.fuzz.test.ts'],
          exclude: shared,
          testTimeout: 600_000,
        },
      },
      {
        test: {
          name: 'netns',
          include: ['**/*.netns.test.ts'],
          exclude: shared,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
