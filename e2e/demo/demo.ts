#!/usr/bin/env node
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { onTeardown } from '../netns/index.js';
import { topologyUnavailableReason } from '../system/topology.js';
import { demoInstructions, startDemo } from './start-demo.js';

/**
 * `npm run demo` (as root, Linux): the whole Postern system in network namespaces, a demo user signed in, until
 * Ctrl-C. On Ctrl-C (or any exit) the netns library's safety net kills every process of the demo, deletes its
 * namespaces and their /etc/netns files, and removes its temp dir — nothing is left on the machine.
 */

const USAGE = `usage: npm run demo [-- --info-file PATH]

  --info-file PATH  also write the running demo's details (namespaces, helper socket, portal URLs) as JSON here`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { 'info-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const reason = topologyUnavailableReason(['portal', 'gateway', 'helper', 'postern']);
  if (reason) {
    console.error(`postern demo: cannot run here: ${reason}`);
    process.exit(1);
  }
  console.log('Starting the Postern demo: five network namespaces, DNS, HTTP, portal, gateway and helper…');
  const started = Date.now();
  const { info } = await startDemo(values['info-file'] ? { infoFile: values['info-file'] } : {});
  onTeardown(() => {
    rmSync(info.infoFile, { force: true });
    console.log('\nPostern demo stopped; its namespaces, processes and files are gone.');
  });
  console.log(`(up in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(demoInstructions(info));
  // Runs until a signal: the loopback relay to the portal keeps the event loop alive.
}

main().catch((err: unknown) => {
  console.error(`postern demo: ${(err as Error).message}`);
  process.exit(1);
});
