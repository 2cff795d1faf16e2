/**
 * One access-log line per gateway decision, in the spirit of dns-firewall's (seed 004): the client's tunnel address,
 * an arrow for the kind of decision, then what was decided.
 *
 *   100.64.0.2 -> [7] nas.corp.test                               assigned_ips accepted, resolving
 *   100.64.0.2 <- [7] nas.corp.test [10.0.0.5, fd00::5] TTL:30     resolved: the mapped IPs are active
 *   100.64.0.2 <! [7] nas.corp.test timeout                        resolution failed: inactive
 *   100.64.0.2 |> [7] evil.test not authorized                     assigned_ips refused
 *   100.64.0.2 ~> tcp 100.96.0.1:443 nas.corp.test => 10.0.0.5:443  a new flow forwarded
 *   100.64.0.2 |> tcp 10.0.0.9:22 prohibited                        a new flow refused
 *   100.64.0.2 !> malformed control message                         garbage from the client
 */

export type AccessLogEntry =
  | { kind: 'resolve'; client: string; requestId: number; domain: string }
  | { kind: 'resolved'; client: string; requestId: number; domain: string; addresses: string[]; ttl: number }
  | { kind: 'resolve_failed'; client: string; requestId: number; domain: string; error: string }
  | { kind: 'refused'; client: string; requestId: number; domain: string; reason: string }
  | {
      kind: 'flow';
      client: string;
      protocol: string;
      dst: string;
      dstPort: number;
      real: string;
      domain: string | undefined;
    }
  | { kind: 'flow_blocked'; client: string; protocol: string; dst: string; dstPort: number; reason: string }
  | { kind: 'malformed'; client: string; reason: string };

export function formatAccessLog(entry: AccessLogEntry): string {
  switch (entry.kind) {
    case 'resolve':
      return `${entry.client} -> [${entry.requestId}] ${entry.domain}`;
    case 'resolved':
      return `${entry.client} <- [${entry.requestId}] ${entry.domain} [${entry.addresses.join(', ')}] TTL:${entry.ttl}`;
    case 'resolve_failed':
      return `${entry.client} <! [${entry.requestId}] ${entry.domain} ${entry.error}`;
    case 'refused':
      return `${entry.client} |> [${entry.requestId}] ${entry.domain} ${entry.reason}`;
    case 'flow': {
      const via = entry.domain ? ` ${entry.domain} =>` : ' =>';
      return `${entry.client} ~> ${entry.protocol} ${hostPort(entry.dst, entry.dstPort)}${via} ${hostPort(entry.real, entry.dstPort)}`;
    }
    case 'flow_blocked':
      return `${entry.client} |> ${entry.protocol} ${hostPort(entry.dst, entry.dstPort)} ${entry.reason}`;
    case 'malformed':
      return `${entry.client} !> ${entry.reason}`;
  }
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
