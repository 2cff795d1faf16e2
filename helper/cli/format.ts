import type { ConnectionState, HelperResultByRequest } from '../../protocol/helper-api.js';

/** Human-readable output of the CLI; `--json` prints the helper's reply instead. */

export function formatState(state: ConnectionState): string {
  switch (state.status) {
    case 'disconnected':
      return `disconnected${state.error ? ` (${state.error.code}: ${state.error.message})` : ''}`;
    case 'connecting':
      return `connecting to ${state.portalUrl} (attempt ${state.attempt}${state.error ? `, last error: ${state.error.message}` : ''})`;
    case 'connected':
      return `connected to ${state.portalUrl} as ${state.account.email} since ${new Date(state.since).toISOString()}`;
    case 'reconnecting':
      return `reconnecting to ${state.portalUrl} as ${state.account.email} (attempt ${state.attempt}${state.error ? `, last error: ${state.error.message}` : ''})`;
  }
}

export function formatStatus(status: HelperResultByRequest['status']): string {
  const lines = [`helper ${status.version}: ${formatState(status.state)}`];
  if (status.tunnel) {
    const { tunName, mtu, addresses } = status.tunnel;
    lines.push(`tunnel:    ${tunName} (mtu ${mtu}) ${addresses.ipv4} ${addresses.ipv6}`);
  }
  if (status.dns) {
    lines.push(`dns:       ${status.dns.mode}, sentinels ${status.dns.sentinels.join(' ') || '-'}`);
    lines.push(`upstreams: ${status.dns.upstreams.join(' ') || '-'}`);
  }
  if (status.routes.length > 0) lines.push(`routes:    ${status.routes.join(' ')}`);
  return lines.join('\n');
}

export function formatResources(result: HelperResultByRequest['resources']): string {
  if (result.resources.length === 0) return 'no resources';
  return table(
    ['NAME', 'ADDRESS', 'TYPE', 'STATUS', 'GATEWAY'],
    result.resources.map(({ resource, status, gatewayId }) => [
      resource.name,
      resource.address,
      resource.type,
      status,
      gatewayId ?? '-',
    ]),
  );
}

export function formatMappings(result: HelperResultByRequest['mappings']): string {
  if (result.mappings.length === 0) return 'no mappings';
  return table(
    ['DOMAIN', 'RESOURCE', 'IPV4', 'IPV6', 'GATEWAY', 'NAT', 'LAST USED'],
    result.mappings.map((m) => [
      m.domain,
      m.resourceId ?? '-',
      m.ipv4.join(','),
      m.ipv6.join(','),
      m.gatewayId ?? '-',
      m.natState,
      new Date(m.lastUsedAt).toISOString(),
    ]),
  );
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
