import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CapturedMessage } from '../../tunnel/dns/fixtures/captured.js';

export type { CapturedMessage };

/** Whether this run should rewrite the fixtures (POSTERN_CAPTURE_DNS_FIXTURES=1). */
export const CAPTURE_FIXTURES = Boolean(process.env.POSTERN_CAPTURE_DNS_FIXTURES);

/**
 * Writes captured messages as a TypeScript module under tunnel/dns/fixtures/ (a module, so tests and fuzzers in
 * `tunnel/` load it without file access), formatted with prettier.
 */
export function writeFixtures(file: string, exportName: string, about: string, messages: CapturedMessage[]): void {
  const path = fileURLToPath(new URL(`../../tunnel/dns/fixtures/${file}`, import.meta.url));
  const source = [
    `// Captured by ${about} with POSTERN_CAPTURE_DNS_FIXTURES=1; do not edit by hand.`,
    `import type { CapturedMessage } from './captured.js';`,
    ``,
    `export const ${exportName}: readonly CapturedMessage[] = ${JSON.stringify(messages, null, 2)};`,
    ``,
  ].join('\n');
  writeFileSync(path, source);
  execFileSync('npx', ['prettier', '--write', path], { stdio: 'ignore' });
}
