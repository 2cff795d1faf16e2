import { z } from 'zod';

/**
 * The address plan and the names of the system topology, shared by the topology, the demo and the system tests.
 * `assets/demo/*.dnsmasq.conf` and `assets/demo/portal.yaml` use the same addresses and names.
 *
 *   client 198.51.100.2 ──┐              ┌── 203.0.113.2 gateway 10.0.0.1 ─── 10.0.0.2 corp
 *   (postern-helper, TUN)  │   internet   │   (postern-gateway) fd10:c0::1    fd10:c0::2 (dnsmasq; HTTP on
 *                          ├─ (router) ───┤                                               10.0.1.0/24, fd10:c1::/64)
 *   portal 192.0.2.2 ──────┘  public DNS 192.0.2.53, SaaS 192.0.2.80 (allowlist), www 192.0.2.81
 *
 * Public addresses are the documentation ranges; corp's are private. The internet has no route into corp: the only
 * way there is the tunnel. The gateway host is also the corp site's edge router (it masquerades corp's own traffic,
 * e.g. corp's DNS forwarding public names to the public DNS).
 */
export const PLAN = {
  client: { address: '198.51.100.2', router: '198.51.100.1', prefix: 24, tun: 'postern0' },
  gateway: {
    /** Its public address: the WireGuard endpoint, and the one egress address an allowlist sees. */
    address: '203.0.113.2',
    router: '203.0.113.1',
    prefix: 24,
    port: 51820,
    corp: '10.0.0.1',
    corp6: 'fd10:c0::1',
    tun: 'postern-gw0',
  },
  portal: { address: '192.0.2.2', router: '192.0.2.1', prefix: 28, port: 8080 },
  internet: { dns: '192.0.2.53', saas: '192.0.2.80', www: '192.0.2.81' },
  corp: {
    address: '10.0.0.2',
    address6: 'fd10:c0::2',
    prefix: 24,
    prefix6: 64,
    dns: '10.0.0.2',
    /** Where corp's servers live (on corp's loopback, routed by the gateway). */
    servers4: '10.0.1.0/24',
    servers6: 'fd10:c1::/64',
  },
} as const;

/** The HTTP servers: local address → the name the server answers with. */
export const CORP_SERVERS: Readonly<Record<string, string>> = {
  '10.0.1.1': 'nas',
  '10.0.1.2': 'apps',
  '10.0.1.3': 'wiki',
  '10.0.1.4': 'secret',
  '10.0.1.11': 'rr1',
  '10.0.1.12': 'rr2',
  '10.0.1.13': 'rr3',
  'fd10:c1::6': 'v6only',
};

export const INTERNET_SERVERS: Readonly<Record<string, string>> = {
  [PLAN.internet.saas]: 'saas',
  [PLAN.internet.www]: 'www',
};

/** The SaaS service admits only the gateway's egress address. */
export const SAAS_ALLOWLIST = [PLAN.gateway.address] as const;

export const NAMES = {
  /** Known only to corp's DNS. */
  nas: 'nas.corp.test',
  /** `*.apps.corp.test` is one wildcard zone in corp's DNS and one wildcard resource. */
  appsZone: 'apps.corp.test',
  /** AAAA only. */
  v6only: 'v6only.corp.test',
  /** Three A records on three distinct servers. */
  roundRobin: 'rr.corp.test',
  /** No A or AAAA records (a TXT record only). */
  empty: 'empty.corp.test',
  /** A resource with a policy of its own, removed and restored live by a test. */
  wiki: 'wiki.corp.test',
  /** In corp's DNS and a resource, but no policy grants it. */
  secret: 'secret.corp.test',
  /** Public, IP-allowlisted; a resource (reached through the gateway). */
  saas: 'saas.example.test',
  /** Public, on the SaaS's IP, not a resource (goes direct and is refused by the allowlist). */
  saasSibling: 'other.example.test',
  /** Public, not a resource. */
  www: 'www.example.test',
} as const;

/** The demo user of `assets/demo/portal.yaml` and the group its policies grant. */
export const DEMO_USER = { email: 'demo@corp.test', password: 'demo password', group: 'engineering' } as const;
export const DEMO_GATEWAY_TOKEN = 'demo-gateway-token-corp-0123456789';

/** What every HTTP server of the topology answers (JSON): which server, the caller's source address, the Host. */
export const NamedHttpReply = z.object({
  server: z.string(),
  client: z.string(),
  host: z.string(),
  error: z.string().optional(),
});
export type NamedHttpReply = z.infer<typeof NamedHttpReply>;
