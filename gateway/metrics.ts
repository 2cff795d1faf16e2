import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { DROP_REASONS, type GatewayStats } from '../tunnel/gateway/state.js';
import type { HostPort } from './cli.js';

/**
 * Prometheus metrics (prom-client) read from the state's `stats()` at scrape time, so the data path only bumps plain
 * counters. Counters are set from those totals on each scrape.
 */
export function gatewayMetrics(
  stats: () => GatewayStats,
  extra: () => { portalConnected: boolean; wireguardDrops: Record<string, number>; handshakes: number },
): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  gauge('postern_gateway_clients', 'Clients with at least one authorization', () => stats().clients);
  gauge('postern_gateway_nat_entries', 'Live NAT table entries (flows)', () => stats().natEntries);
  gauge('postern_gateway_dns_mappings', 'Domains mapped for clients', () => stats().domains);
  gauge('postern_gateway_portal_connected', '1 while the portal WebSocket is open', () =>
    extra().portalConnected ? 1 : 0,
  );
  counter('postern_gateway_flows_total', 'Flows created', () => stats().flowsCreated);
  counter('postern_gateway_control_messages_total', 'Control messages from clients', () => stats().controlMessages);
  counter('postern_gateway_wireguard_handshakes_total', 'WireGuard handshakes completed', () => extra().handshakes);
  new Counter({
    name: 'postern_gateway_bytes_total',
    help: 'IP bytes by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ direction: 'from_clients' }, s.bytesFromClients);
      this.inc({ direction: 'to_clients' }, s.bytesToClients);
      this.inc({ direction: 'to_network' }, s.bytesToNetwork);
      this.inc({ direction: 'from_network' }, s.bytesFromNetwork);
    },
  });
  new Counter({
    name: 'postern_gateway_drops_total',
    help: 'Packets and messages dropped, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const drops = stats().drops;
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, drops[reason]);
      for (const [reason, n] of Object.entries(extra().wireguardDrops)) this.inc({ reason: `wireguard_${reason}` }, n);
    },
  });
  return registry;
}

/** Serves `/metrics`; resolves once listening. */
export async function serveMetrics(registry: Registry, at: HostPort): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return server;
}
