#!/usr/bin/env node
import { POSTERN_VERSION } from '../protocol/version.js';
import { USAGE, parseGatewayArgs } from './cli.js';
import { GatewayDaemon } from './daemon.js';

const parsed = parseGatewayArgs(process.argv.slice(2), POSTERN_VERSION);
if (parsed.ok === 'exit') {
  console.log(parsed.text);
} else if (!parsed.ok) {
  console.error(`postern-gateway: ${parsed.error}\n${USAGE}`);
  process.exitCode = 2;
} else {
  const daemon = new GatewayDaemon(parsed.options);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      daemon.log.info({ signal }, 'shutting down');
      void daemon.stop(0).then(() => process.exit());
    });
  }
  daemon.start().catch(async (error: unknown) => {
    daemon.log.fatal({ err: error }, 'gateway failed to start');
    await daemon.stop(1);
    process.exit();
  });
}
