#!/usr/bin/env node
import { POSTERN_VERSION } from '../protocol/version.js';

const USAGE = `usage: postern-portal [--version] [--help]

postern-portal: the control plane (sign-in, resources, policies, gateways).
This build only answers --version and --help; the rest arrives with its own issue.`;

const arg = process.argv[2];
if (arg === '--version') {
  console.log(POSTERN_VERSION);
} else if (arg === '--help' || arg === undefined) {
  console.log(USAGE);
} else {
  console.error(`postern-portal: unknown argument ${arg}\n${USAGE}`);
  process.exitCode = 2;
}
