#!/usr/bin/env node
import { POSTERN_VERSION } from '../../protocol/version.js';
import { runCommand } from '../os/command.js';
import { ipv6Enabled } from '../os/ipv6.js';
import { DAEMON_USAGE, parseDaemonArgs } from './flags.js';
import { Helper } from './helper.js';
import { createLogger } from './logger.js';
import { nativeAuthorize, nativeCore, nativeOpenTun } from './platform.js';

const args = parseDaemonArgs(process.argv.slice(2));
if (!args.ok || args.kind !== 'run') {
  if (!args.ok) console.error(`postern-helper: ${args.error}\n${DAEMON_USAGE}`);
  else console.log(args.kind === 'help' ? DAEMON_USAGE : POSTERN_VERSION);
  process.exit(args.ok ? 0 : 2);
}
const { config } = args;
const log = createLogger(config.logLevel, config.logFile);
const helper = new Helper(config, log, {
  run: runCommand,
  authorize: nativeAuthorize(log),
  createCore: nativeCore,
  openTun: nativeOpenTun,
  ipv6Enabled,
});

let stopping = false;
async function shutdown(reason: string, code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log.info({ reason }, 'stopping: restoring DNS and routes');
    try {
      await helper.stop();
    } catch (e) {
      log.error({ err: e }, 'could not undo everything; the next start recovers from the state file');
      code = code || 1;
    }
  }
  process.exit(code);
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal, 0));
process.on('uncaughtException', (e) => {
  log.fatal({ err: e }, 'uncaught exception');
  void shutdown('uncaught exception', 1);
});
process.on('unhandledRejection', (e) => {
  log.fatal({ err: e }, 'unhandled rejection');
  void shutdown('unhandled rejection', 1);
});

try {
  await helper.start();
  log.info({ version: POSTERN_VERSION, config }, 'postern-helper ready');
} catch (e) {
  log.fatal({ err: e }, 'cannot start');
  await shutdown('start-up failed', 1);
}
