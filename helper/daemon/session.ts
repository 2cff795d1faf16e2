import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type {
  ConnectionError,
  ConnectionState,
  DnsInfo,
  Mapping,
  ResourceView,
  TunnelInfo,
} from '../../protocol/helper-api.js';
import type { PortalToClient } from '../../protocol/portal-client.js';
import { POSTERN_VERSION } from '../../protocol/version.js';
import { createDnsControl, type DnsControl } from '../dns/dns-control.js';
import { mustRun, type RunCommand } from '../os/command.js';
import { RouteControl } from '../os/routes.js';
import type { StateFile } from '../os/state-file.js';
import { PortalLink } from '../portal/portal-link.js';
import type { ClientCore, ClientCoreFactory } from './client-core.js';
import { type DeviceKey, loadOrCreateDeviceKey } from './device-key.js';
import type { DaemonConfig } from './flags.js';
import { Tunnel, type TunPort } from './tunnel.js';
import { flattenStats, toMapping, toResourceViews } from './views.js';

/** WireGuard over IPv6 with room to spare: the tunnel MTU Firezone and many VPNs pick. */
export const TUN_MTU = 1280;

export interface SessionOptions {
  portalUrl: string;
  token: string;
  config: DaemonConfig;
  stateFile: StateFile;
  run: RunCommand;
  log: Logger;
  createCore: ClientCoreFactory;
  openTun: (name: string, mtu: number) => TunPort;
  /** Whether the TUN can carry IPv6 (the kernel's sysctl, `os/ipv6.ts`). */
  ipv6Enabled: (device: string) => boolean;
  events: {
    state: (state: ConnectionState) => void;
    resources: (resources: ResourceView[]) => void;
    mapping: (mapping: Mapping) => void;
    mappingsCleared: () => void;
  };
}

type Init = Extract<PortalToClient, { type: 'init' }>;

/**
 * One connection to a portal with a token: the portal link, and once the portal's `init` arrived, the tunnel (TUN,
 * client core, routes, DNS). The link reconnects on its own; the tunnel stays up meanwhile.
 */
export class Session {
  private state: ConnectionState;
  private readonly link: PortalLink;
  private tunnel: Tunnel | undefined;
  private tun: TunPort | undefined;
  private core: ClientCore | undefined;
  private routeControl: RouteControl | undefined;
  private dnsMode: DnsControl['mode'] | undefined;
  /** The first `init`'s tunnel bring-up; later messages wait for it. */
  private tunnelReady: Promise<void> | undefined;
  private init: Init | undefined;
  private since = 0;
  private attempt = 1;
  private stopped = false;
  private readonly settleWaiters: Array<(state: ConnectionState) => void> = [];
  private readonly deviceKey: DeviceKey;

  constructor(private readonly options: SessionOptions) {
    this.state = { status: 'connecting', portalUrl: options.portalUrl, attempt: 1 };
    this.deviceKey = loadOrCreateDeviceKey(options.config.stateDir);
    this.link = new PortalLink({
      portalUrl: options.portalUrl,
      token: options.token,
      log: options.log.child({ component: 'portal' }),
      userAgent: `postern-helper/${POSTERN_VERSION}`,
      handlers: {
        onOpen: () => this.registerDevice(),
        onMessage: (message) => void this.receive(message),
        onDown: (error, retryInMs) => this.linkDown(error, retryInMs),
      },
    });
  }

  start(): void {
    this.options.events.state(this.state);
    this.link.start();
  }

  /** Resolves with the state once connected or finally refused, or with the in-progress state after `timeoutMs`. */
  settled(timeoutMs: number): Promise<ConnectionState> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.state), timeoutMs);
      this.settleWaiters.push((state) => {
        clearTimeout(timer);
        resolve(state);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.link.stop();
    await this.teardownTunnel();
    this.settle({ status: 'disconnected' });
  }

  tunnelInfo(): TunnelInfo | null {
    if (!this.tun || !this.init) return null;
    return { tunName: this.tun.name, mtu: this.tun.mtu, addresses: this.init.device.tunnel };
  }

  dnsInfo(): DnsInfo | null {
    const core = this.core;
    if (!core || !this.dnsMode) return null;
    const sentinels = core.sentinels();
    return {
      mode: this.dnsMode,
      sentinels: sentinels.map((s) => s.sentinel),
      upstreams: sentinels.map((s) => s.upstream),
    };
  }

  /** The prefixes routed into the TUN now (what `ip route` shows, not what the core would like). */
  routes(): string[] {
    return this.routeControl?.routes ?? [];
  }

  stats(): Record<string, number> {
    return {
      ...(this.core ? flattenStats(this.core.stats()) : {}),
      ...prefixed('helper', this.tunnel?.counters ?? {}),
      ...prefixed('portal', this.link.dropped),
    };
  }

  resources(): ResourceView[] {
    if (this.core) return toResourceViews(this.core);
    return this.init?.resources.map((resource) => ({ resource, status: 'idle', gatewayId: null })) ?? [];
  }

  mappings(): Mapping[] {
    return this.core?.mappings().map(toMapping) ?? [];
  }

  private registerDevice(): void {
    this.link.send({
      type: 'register_device',
      publicKey: this.deviceKey.publicKey,
      name: hostname().slice(0, 255) || 'postern',
      os: `${process.platform}`,
      version: POSTERN_VERSION,
    });
  }

  private async receive(message: PortalToClient): Promise<void> {
    if (message.type === 'error') {
      this.options.log.warn({ code: message.code, reason: message.message }, 'the portal reported an error');
      return;
    }
    if (message.type !== 'init') {
      // Messages that arrive while the tunnel is being set up wait for it, in order.
      await this.tunnelReady?.catch(() => {});
      return this.tunnel?.handlePortalMessage(message);
    }
    this.link.markHealthy();
    this.init = message;
    if (this.tunnelReady) {
      // A reconnect: the core takes the fresh resource list; the tunnel and its OS state stay as they are.
      await this.tunnelReady.catch(() => {});
      this.tunnel?.handlePortalMessage(message);
    } else {
      this.tunnelReady = this.bringUpTunnel(message);
      try {
        await this.tunnelReady;
      } catch (e) {
        const error: ConnectionError = { code: 'system', message: `cannot set up the tunnel: ${(e as Error).message}` };
        this.options.log.error({ err: e }, error.message);
        this.link.stop();
        await this.teardownTunnel();
        return this.settle({ status: 'disconnected', error });
      }
    }
    if (this.stopped) return this.teardownTunnel(); // disconnected while the tunnel came up
    if (!this.tunnel) return;
    this.since = this.state.status === 'reconnecting' ? this.since : Date.now();
    this.attempt = 1;
    this.settle({
      status: 'connected',
      portalUrl: this.options.portalUrl,
      account: message.account,
      device: message.device,
      since: this.since,
    });
    this.options.events.resources(this.resources());
  }

  private async bringUpTunnel(init: Init): Promise<void> {
    const { config, run, log, stateFile, createCore } = this.options;
    const core = createCore({ privateKey: Buffer.from(this.deviceKey.privateKey).toString('base64'), mtu: TUN_MTU });
    const tun = this.options.openTun(config.tunName, TUN_MTU);
    this.tun = tun;
    const ipv6 = this.options.ipv6Enabled(tun.name);
    await mustRun(run, 'ip', ['-4', 'addr', 'add', `${init.device.tunnel.ipv4}/32`, 'dev', tun.name]);
    if (ipv6) {
      await mustRun(run, 'ip', ['-6', 'addr', 'add', `${init.device.tunnel.ipv6}/128`, 'dev', tun.name, 'nodad']);
    } else {
      log.warn({ tun: tun.name }, 'IPv6 is disabled on this host: the tunnel carries IPv4 only');
    }
    const dns = createDnsControl({ mode: config.dnsMode, tunName: tun.name, state: stateFile, log, run });
    this.dnsMode = dns.mode;
    const routes = new RouteControl({ run, state: stateFile, tunName: tun.name, log, ipv6 });
    this.routeControl = routes;
    this.core = core;
    this.tunnel = new Tunnel({
      core,
      tun,
      ipv6,
      dns,
      routes,
      log: log.child({ component: 'tunnel' }),
      sendToPortal: (m) => this.link.send(m),
      portalAddresses: await portalAddresses(this.options.portalUrl),
      onEvent: (event) => {
        if (event.type === 'mapping_created' || event.type === 'mapping_changed') {
          this.options.events.mapping(toMapping(event.mapping));
        } else if (event.type === 'mappings_cleared') {
          this.options.events.mappingsCleared();
        } else if (event.type === 'nat_state_changed') {
          const mapping = this.core?.mappings().find((m) => m.domain === event.domain);
          if (mapping) this.options.events.mapping(toMapping(mapping));
        } else if (event.type === 'resources_changed' || event.type === 'resource_status_changed') {
          this.options.events.resources(this.resources());
        }
      },
      onFatal: (e) => void this.fail(e),
    });
    core.handlePortalMessage(init, performance.timeOrigin + performance.now());
    await this.tunnel.start();
  }

  private async fail(e: Error): Promise<void> {
    this.options.log.error({ err: e }, 'tunnel failed');
    this.link.stop();
    await this.teardownTunnel();
    this.settle({ status: 'disconnected', error: { code: 'system', message: e.message } });
  }

  private async teardownTunnel(): Promise<void> {
    const tunnel = this.tunnel;
    this.tunnel = undefined;
    this.core = undefined;
    this.routeControl = undefined;
    if (tunnel) await tunnel.stop();
    else this.tun?.close();
    this.tun = undefined;
  }

  private linkDown(error: ConnectionError, retryInMs: number | undefined): void {
    if (this.stopped) return;
    if (retryInMs === undefined) {
      void this.teardownTunnel().then(() => this.settle({ status: 'disconnected', error }));
      return;
    }
    this.attempt++;
    const { portalUrl } = this.options;
    if (this.init && this.tunnel) {
      const { account, device } = this.init;
      this.setState({ status: 'reconnecting', portalUrl, account, device, attempt: this.attempt, error });
    } else {
      this.setState({ status: 'connecting', portalUrl, attempt: this.attempt, error });
    }
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.options.events.state(state);
  }

  /** A state that answers a pending `connect`. */
  private settle(state: ConnectionState): void {
    this.setState(state);
    for (const waiter of this.settleWaiters.splice(0)) waiter(state);
  }
}

/** The portal's addresses, kept out of the TUN in case a CIDR resource covers them. */
async function portalAddresses(portalUrl: string): Promise<string[]> {
  const host = new URL(portalUrl).hostname.replace(/^\[|\]$/g, '');
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

function prefixed(prefix: string, counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).map(([k, v]) => [`${prefix}.${k}`, v]));
}
