import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_USER, NAMES } from '../system/plan.js';
import { BIN, SystemTopology, type TopologyInfo } from '../system/topology.js';

/** What a running demo offers to whoever drives it (the terminal instructions, a UI in browser mode, scripts). */
export interface DemoInfo extends TopologyInfo {
  /** The portal's account the demo signed in, and its password for a browser sign-in. */
  user: { email: string; password: string };
  /** A `postern` CLI wrapper bound to the demo's helper socket. */
  posternCommand: string;
  /** Where this object is written as JSON. */
  infoFile: string;
}

/**
 * Brings the whole system up (`SystemTopology.up()`: network, DNS, HTTP, portal, gateway, helper, the demo user
 * signed in headlessly with a minted token), serves the portal on the machine's loopback, and writes the demo's
 * `DemoInfo` as JSON — the hook for anything that wants to attach to the running demo (e.g. the desktop UI in browser
 * mode: the client namespace, the helper socket and the portal URL are all in it).
 */
export async function startDemo(
  options: { infoFile?: string } = {},
): Promise<{ topology: SystemTopology; info: DemoInfo }> {
  const topology = await SystemTopology.up();
  await topology.exposePortal();
  const posternCommand = join(topology.dir, 'postern');
  writeFileSync(
    posternCommand,
    `#!/bin/sh\n# The postern CLI against the demo's helper.\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN.postern)} --socket ${JSON.stringify(topology.helperSocket)} "$@"\n`,
  );
  chmodSync(posternCommand, 0o755);
  const info: DemoInfo = {
    ...topology.info(),
    user: { email: DEMO_USER.email, password: DEMO_USER.password },
    posternCommand,
    infoFile: options.infoFile ?? join(topology.dir, 'demo.json'),
  };
  writeFileSync(info.infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return { topology, info };
}

/** The terminal text: what runs where, and what to try. */
export function demoInstructions(info: DemoInfo): string {
  const client = info.namespaces.client;
  const inClient = (command: string) => `sudo ip netns exec ${client} ${command}`;
  const lines: [string, string][] = [
    [inClient(`curl http://${NAMES.nas}/`), 'a corp server, through the tunnel; it sees the gateway’s address'],
    [inClient(`dig +short ${NAMES.nas}`), 'mapped IPs (100.96.0.0/11), answered by the helper'],
    [inClient(`dig +short ${NAMES.www}`), 'not a resource: the real address, from the public DNS'],
    [inClient(`curl http://x.${NAMES.appsZone}/`), 'any name under the wildcard resource *.apps.corp.test'],
    [inClient(`curl -4 http://${NAMES.v6only}/`), 'an IPv6-only server over IPv4 (the gateway’s NAT64)'],
    [inClient(`curl http://${NAMES.saas}/`), 'an IP-allowlisted SaaS, reached from the gateway’s egress address'],
    [inClient(`curl http://${NAMES.saasSibling}/`), 'the same IP under a name that is not a resource: direct, refused'],
    [`sudo ${info.posternCommand} mappings`, 'domains the helper answered, their mapped IPs and NAT state'],
    [`sudo ${info.posternCommand} status`, 'connection, tunnel, DNS and routes'],
  ];
  const width = Math.max(...lines.map(([command]) => command.length));
  return [
    '',
    `Postern demo is up: ${info.user.email} is signed in on the client (network namespace ${client}).`,
    '',
    'Try:',
    ...lines.map(([command, what]) => `  ${command.padEnd(width)}   # ${what}`),
    '',
    `Portal:  ${info.portalHostUrl ?? info.portalUrl}  (sign in as ${info.user.email} / "${info.user.password}"; admin API token in ${info.adminTokenFile})`,
    `Logs:    ${info.logDir}  (gateway.log has the gateway's access log)`,
    `Details: ${info.infoFile}`,
    '',
    'Press Ctrl-C to stop; everything the demo created is removed.',
    '',
  ].join('\n');
}
