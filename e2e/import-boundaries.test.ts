import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// Lints snippets as if they were files in each folder, so the "may import" column of DESIGN.md is proven to be
// enforced rather than assumed.
const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const cases: Array<[string, string, string | undefined]> = [
  // [file, code, expected rule or undefined when allowed]
  ['tunnel/x.ts', "import { a } from '../helper/cli/postern.js';\nexport { a };", 'import-x/no-restricted-paths'],
  ['tunnel/x.ts', "import { a } from '../protocol/version.js';\nexport { a };", undefined],
  ['tunnel/x.ts', "import dgram from 'node:dgram';\nexport { dgram };", '@typescript-eslint/no-restricted-imports'],
  [
    'tunnel/x.ts',
    "import { readFileSync } from 'fs';\nexport { readFileSync };",
    '@typescript-eslint/no-restricted-imports',
  ],
  ['tunnel/x.ts', 'export const t = Date.now();', 'no-restricted-properties'],
  ['tunnel/x.ts', 'export const t = setTimeout;', 'no-restricted-globals'],
  ['tunnel/x.ts', 'export const r = Math.random();', 'no-restricted-syntax'],
  ['tunnel/x.ts', "import { createCipheriv } from 'node:crypto';\nexport { createCipheriv };", undefined],
  [
    'protocol/x.ts',
    "import { a } from '../e2e/import-boundaries.test.js';\nexport { a };",
    'import-x/no-restricted-paths',
  ],
  ['protocol/x.ts', "import net from 'node:net';\nexport { net };", '@typescript-eslint/no-restricted-imports'],
  ['protocol/x.ts', "import { z } from 'zod';\nexport { z };", undefined],
  ['helper/x.ts', "import { a } from '../gateway/main.js';\nexport { a };", 'import-x/no-restricted-paths'],
  ['helper/x.ts', "import { a } from '../protocol/version.js';\nexport { a };", undefined],
  ['gateway/x.ts', "import { a } from '../portal/main.js';\nexport { a };", 'import-x/no-restricted-paths'],
  [
    'portal/x.ts',
    "import { a } from '../e2e/import-boundaries.test.js';\nexport { a };",
    'import-x/no-restricted-paths',
  ],
  ['main/app/x.ts', "import { a } from '../../helper/cli/postern.js';\nexport { a };", 'import-x/no-restricted-paths'],
  ['renderer/x.tsx', "import fs from 'node:fs';\nexport { fs };", '@typescript-eslint/no-restricted-imports'],
  [
    'renderer/x.tsx',
    "import { ipcRenderer } from 'electron';\nexport { ipcRenderer };",
    '@typescript-eslint/no-restricted-imports',
  ],
  [
    'renderer/x.tsx',
    "import { Resource } from '../protocol/resources.js';\nexport { Resource };",
    '@typescript-eslint/no-restricted-imports',
  ],
  ['renderer/x.tsx', "import type { Resource } from '../protocol/resources.js';\nexport type { Resource };", undefined],
  ['e2e/x.ts', "import { a } from '../helper/cli/postern.js';\nexport { a };", undefined],
  ['helper/x.ts', 'export const x: any = 1;', '@typescript-eslint/no-explicit-any'],
];

describe('import boundaries (eslint.config.js)', () => {
  it.each(cases)('%s: %s', async (file, code, expected) => {
    const ids = await ruleIds(file, code);
    if (expected === undefined) expect(ids).toEqual([]);
    else expect(ids).toContain(expected);
  });
});
