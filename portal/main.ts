#!/usr/bin/env node
import { POSTERN_VERSION } from '../protocol/version.js';
import { resolveCli } from './cli.js';
import { ConfigError, startPortal } from './server.js';

async function main(): Promise<number> {
  if (process.argv.includes('--version')) {
    console.log(POSTERN_VERSION);
    return 0;
  }
  const cli = await resolveCli(process.argv.slice(2), process.env);
  if (cli.kind === 'print') {
    console.log(cli.text);
    return 0;
  }
  if (cli.kind === 'fail') {
    for (const error of cli.errors) console.error(`postern-portal: ${error}`);
    return 2;
  }
  let portal;
  try {
    portal = await startPortal(cli.options);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const error of err.errors) console.error(`postern-portal: ${error}`);
      return 2;
    }
    throw err;
  }
  const running = portal;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error('postern-portal:', err);
    process.exitCode = 1;
  },
);
