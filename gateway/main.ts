#!/usr/bin/env node
import { POSTERN_VERSION } from '../protocol/version.js';

const USAGE = `usage: postern-gateway [--version] [--help]

postern-gateway: the gateway daemon (WireGuard, resolution, NAT).
This build only answers --version and --help; the rest arrives with its own issue.`;

const arg = process.argv[2];
if (arg === '--version') {
  console.log(POSTERN_VERSION);
} else if (arg === '--help' || arg === undefined) {
  console.log(USAGE);
} else {
  console.error(`postern-gateway: unknown argument ${arg}\n${USAGE}`);
  process.exitCode = 2;
}
