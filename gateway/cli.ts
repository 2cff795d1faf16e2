import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

/** The daemon's command line. Parsing never exits or throws: it returns the options or what is wrong. */

export interface HostPort {
  host: string;
  port: number;
}

export interface GatewayOptions {
  portalUrl: URL;
  tokenFile: string;
  listen: HostPort;
  endpoint: HostPort;
  dnsServers: string[];
  tunName: string;
  metrics: HostPort | undefined;
  minRuleTimeMs: number;
  maxRuleTimeMs: number;
  logLevel: string;
  name: string;
  mtu: number;
  keyFile: string | undefined;
}

export const USAGE = `usage: postern-gateway --portal URL --token-file FILE --listen HOST:PORT --endpoint PUBLIC_HOST:PORT
                       [--dns SERVER ...] [--tun-name NAME] [--metrics HOST:PORT]
                       [--min-rule-time SECONDS] [--max-rule-time SECONDS] [--log-level LEVEL] [--name NAME]
                       [--mtu BYTES] [--key-file FILE] [--version] [--help]

  --portal URL          the portal (ws://, wss://, http://, https:// — path /gateway/websocket unless given —
                        or ws+unix:///SOCKET:/PATH)
  --token-file FILE     the site's gateway token (sent as Authorization: Bearer)
  --listen HOST:PORT    where to receive WireGuard datagrams (e.g. 0.0.0.0:51820 or [::]:51820)
  --endpoint HOST:PORT  where clients send them (told to the portal)
  --dns SERVER          resolver for DNS resources (IP or IP:PORT, repeatable); default: the system's
  --tun-name NAME       TUN device name or template with %d (default postern%d)
  --metrics HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics
  --min-rule-time S     shortest time a resolution is used without re-query, whatever its TTL (default 5)
  --max-rule-time S     longest time a resolution is used without re-query, whatever its TTL (default 86400)
  --log-level LEVEL     trace, debug, info, warn, error (default info); the access log goes to stdout
  --name NAME           the name the portal shows (default: host name)
  --mtu BYTES           tunnel MTU (default 1420)
  --key-file FILE       WireGuard private key, created on first start; keeps the gateway's identity across
                        restarts (default: a new key per process)`;

export type ParseResult =
  { ok: true; options: GatewayOptions } | { ok: false; error: string } | { ok: 'exit'; text: string };

export function parseGatewayArgs(argv: readonly string[], version: string): ParseResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        portal: { type: 'string' },
        'token-file': { type: 'string' },
        listen: { type: 'string' },
        endpoint: { type: 'string' },
        dns: { type: 'string', multiple: true },
        'tun-name': { type: 'string' },
        metrics: { type: 'string' },
        'min-rule-time': { type: 'string' },
        'max-rule-time': { type: 'string' },
        'log-level': { type: 'string' },
        name: { type: 'string' },
        mtu: { type: 'string' },
        'key-file': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const v = parsed.values;
  if (v.version) return { ok: 'exit', text: version };
  if (v.help) return { ok: 'exit', text: USAGE };
  for (const required of ['portal', 'token-file', 'listen', 'endpoint'] as const) {
    if (!v[required]) return { ok: false, error: `--${required} is required` };
  }
  const portalUrl = portalWebSocketUrl(v.portal!);
  if (typeof portalUrl === 'string') return { ok: false, error: portalUrl };
  const listen = parseHostPort(v.listen!);
  if (typeof listen === 'string') return { ok: false, error: `--listen: ${listen}` };
  const endpoint = parseHostPort(v.endpoint!);
  if (typeof endpoint === 'string') return { ok: false, error: `--endpoint: ${endpoint}` };
  let metrics: HostPort | undefined;
  if (v.metrics !== undefined) {
    const m = parseHostPort(v.metrics);
    if (typeof m === 'string') return { ok: false, error: `--metrics: ${m}` };
    metrics = m;
  }
  const minRule = seconds(v['min-rule-time'], 5);
  const maxRule = seconds(v['max-rule-time'], 86_400);
  if (minRule === undefined) return { ok: false, error: '--min-rule-time must be a number of seconds ≥ 0' };
  if (maxRule === undefined || maxRule < minRule) {
    return { ok: false, error: '--max-rule-time must be a number of seconds ≥ --min-rule-time' };
  }
  const logLevel = v['log-level'] ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    return { ok: false, error: `--log-level: unknown level ${logLevel}` };
  }
  const mtu = Number(v.mtu ?? 1420);
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 9000) return { ok: false, error: '--mtu must be 1280–9000' };
  return {
    ok: true,
    options: {
      portalUrl,
      tokenFile: v['token-file']!,
      listen,
      endpoint,
      dnsServers: v.dns ?? [],
      tunName: v['tun-name'] ?? 'postern%d',
      metrics,
      minRuleTimeMs: minRule * 1000,
      maxRuleTimeMs: maxRule * 1000,
      logLevel,
      name: v.name ?? hostname(),
      mtu,
      keyFile: v['key-file'],
    },
  };
}

/** `HOST:PORT` or `[IPV6]:PORT`. */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return `expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(text)}`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${port} out of range`;
  return { host: (m[1] ?? m[2])!, port };
}

function portalWebSocketUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--portal: not a URL: ${JSON.stringify(text)}`;
  }
  // ws+unix:///run/portal.sock:/gateway/websocket reaches a portal on this host over a Unix socket.
  if (url.protocol === 'ws+unix:') return url;
  const schemes: Record<string, string> = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' };
  const scheme = schemes[url.protocol];
  if (!scheme) return `--portal: unsupported scheme ${url.protocol}`;
  url.protocol = scheme;
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/gateway/websocket';
  return url;
}

function seconds(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
