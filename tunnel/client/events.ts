import type { NatState } from './dns-resource-nat.js';
import type { StubAction } from './stub-resolver.js';

/**
 * What `ClientState` tells its driver (the helper daemon) and, through it, the UI. Addresses are text (IPv4 dotted,
 * IPv6 RFC 5952), ranges CIDR text.
 */

/** A resource as the UI shows it. `idle`: granted, no tunnel yet (the lazy tunnel opens on the first packet). */
export type ResourceStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'forbidden';

export interface MappingView {
  domain: string;
  /** The granted DNS resource the domain matches now; undefined if none does any more (its IPs stay reserved). */
  resourceId: string | undefined;
  ipv4: string[];
  ipv6: string[];
  /** The gateway the resource goes through, while authorized. */
  gatewayId: string | undefined;
  /** The DNS-resource NAT state on that gateway, once the tunnel is up. */
  natState: NatState | undefined;
  /** `now` of the last query for the domain or packet to it. */
  lastUsedAt: number;
}

export interface SentinelView {
  sentinel: string;
  upstream: string;
}

export interface GatewayView {
  id: string;
  siteId: string;
  endpoint: string;
  state: 'handshaking' | 'connected';
  resourceIds: string[];
  lastHandshakeAt: number | undefined;
}

export type ClientEvent =
  /** A domain got its mapped IPs (first A/AAAA query for it). */
  | { type: 'mapping_created'; mapping: MappingView }
  /** The resource a mapped domain matches changed (resources added, changed or removed). */
  | { type: 'mapping_changed'; mapping: MappingView }
  /** The portal changed the mapped ranges: every mapping is gone (applications resolve again). */
  | { type: 'mappings_cleared'; ranges: string[] }
  /** A domain could not get mapped IPs: the application got SERVFAIL. Emitted once per domain. */
  | { type: 'mapped_ips_exhausted'; domain: string; message: string }
  | {
      type: 'nat_state_changed';
      gatewayId: string;
      domain: string;
      resourceId: string;
      state: NatState | 'removed';
    }
  | { type: 'resource_status_changed'; resourceId: string; status: ResourceStatus }
  /** The set of granted resources changed (init, created/updated, deleted, sign-out). */
  | { type: 'resources_changed' }
  | { type: 'routes_changed'; routes: string[] }
  | { type: 'dns_sentinels_changed'; sentinels: SentinelView[]; ignored: { upstream: string; reason: string }[] }
  | { type: 'gateway_connected'; gatewayId: string }
  | {
      type: 'gateway_disconnected';
      gatewayId: string;
      /** `gateway_restarted`: the portal reported a new connection of the gateway; the peer handshakes again. */
      reason: 'handshake_failed' | 'session_expired' | 'replaced' | 'sign_out' | 'gateway_restarted';
    }
  | { type: 'authorization_failed'; resourceId: string; reason: string; message: string }
  /** The portal rejected something we sent (an `error` frame). */
  | { type: 'portal_error'; code: string; message: string }
  /** One line of the DNS access log: every query the stub resolver handled. */
  | {
      type: 'dns_query';
      name: string;
      qtype: number;
      transport: 'udp' | 'tcp';
      action: StubAction;
      resourceId?: string;
    };
