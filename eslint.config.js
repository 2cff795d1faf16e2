// Lint rules, including the import boundaries of DESIGN.md's "may import" column.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const FOLDERS = ['protocol', 'tunnel', 'native', 'helper', 'gateway', 'portal', 'main', 'renderer', 'e2e', 'bench'];

/** Which top-level folders each folder may import from (besides itself). */
const MAY_IMPORT = {
  protocol: [],
  tunnel: ['protocol'],
  native: [],
  helper: ['tunnel', 'protocol', 'native'],
  gateway: ['tunnel', 'protocol', 'native'],
  portal: ['protocol'],
  main: ['protocol'],
  renderer: ['protocol'],
  e2e: FOLDERS,
  bench: FOLDERS,
};

/**
 * Resolves relative imports the way TypeScript's NodeNext does (`./x.js` names `./x.ts` or `./x.tsx`), so path
 * boundaries see the real file. Bare specifiers are packages and are not folder boundaries.
 */
const relativeTsResolver = {
  interfaceVersion: 3,
  name: 'relative-ts',
  resolve(source, file) {
    if (!source.startsWith('.')) return { found: false };
    const base = resolve(dirname(file), source);
    const candidates = [
      base,
      base.replace(/\.js$/, '.ts'),
      base.replace(/\.js$/, '.tsx'),
      `${base}.ts`,
      `${base}/index.ts`,
    ];
    const path = candidates.find((c) => existsSync(c));
    return path ? { found: true, path } : { found: false };
  },
};

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const folderZones = Object.entries(MAY_IMPORT)
  .map(([target, allowed]) => ({
    target: `./${target}`,
    from: FOLDERS.filter((f) => f !== target && !allowed.includes(f)).map((f) => `./${f}`),
    message: `DESIGN.md: ${target}/ may import only ${allowed.length ? allowed.join(', ') : 'its own files'}.`,
  }))
  .filter((zone) => zone.from.length > 0);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'native/build/**',
      'coverage/**',
      'test-results/**',
      'playwright-report/**',
      'renderer/dist/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    // Resolve `./x.js` to `./x.ts` as TypeScript does, so path boundaries see the real file.
    settings: { 'import-x/resolver-next': [relativeTsResolver] },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'import-x/no-restricted-paths': ['error', { zones: folderZones }],
      'no-console': 'off',
    },
  },
  {
    files: ['protocol/**/*.ts'],
    ignores: ['protocol/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'protocol/ is platform-free: zod and ipaddr.js only.' })),
          patterns: [
            { regex: '^(?!zod$|zod/|ipaddr\\.js$|\\.)', message: 'protocol/ may import only zod and ipaddr.js.' },
          ],
        },
      ],
    },
  },
  {
    files: ['tunnel/**/*.ts'],
    // tunnel/testing/ holds test helpers (pcap files, FUZZ_RUNS), which are not part of the sans-IO library.
    ignores: ['tunnel/**/*.test.ts', 'tunnel/testing/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            'net',
            'dgram',
            'fs',
            'fs/promises',
            'timers',
            'timers/promises',
            'child_process',
            'dns',
            'dns/promises',
            'http',
            'https',
            'tls',
            'worker_threads',
            'os',
          ]
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({ name, message: 'tunnel/ is sans-IO: no sockets, files, timers or processes.' })),
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'queueMicrotask',
          'performance',
          'process',
          'fetch',
        ].map((name) => ({ name, message: 'tunnel/ is sans-IO: time and I/O come from the caller.' })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'tunnel/ is sans-IO: take `now` as an argument.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'tunnel/ is sans-IO: take `now` as an argument.',
        },
        {
          selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
          message: 'tunnel/: take randomness from an injected source so tests are deterministic.',
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'renderer/ runs in a sandboxed browser context: no Node.',
            })),
            { name: 'electron', message: 'renderer/ talks only to window.postern.' },
          ],
          patterns: [
            { group: ['electron/*'], message: 'renderer/ talks only to window.postern.' },
            {
              group: ['**/protocol/**'],
              allowTypeImports: true,
              message: 'renderer/ may import only types from protocol/.',
            },
          ],
        },
      ],
    },
  },
);
