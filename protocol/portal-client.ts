import { z } from 'zod';
import { BlockRule, Endpoint, Resource, ResourceId, TunnelAddresses, WireGuardKey } from './resources.js';

/**
 * Messages between a client (the helper daemon) and the portal over the client WebSocket (`/client/websocket`).
 * The client token travels in the `Authorization: Bearer` header of the upgrade request, never in a message.
 * Every message is one JSON text frame with a `type`; both sides validate with these schemas on receipt.
 */

// ---- client → portal -------------------------------------------------------------------------------------------

/** First message after the socket opens: which device this is. The portal answers with `init`. */
export const RegisterDevice = z.object({
  type: z.literal('register_device'),
  publicKey: WireGuardKey,
  name: z.string().min(1).max(255),
  os: z.string().max(64),
  version: z.string().max(64),
});

/** The first packet for a resource arrived (lazy tunnel): ask for a gateway. Idempotent. */
export const RequestAuthorization = z.object({
  type: z.literal('request_authorization'),
  resourceId: ResourceId,
  /** Gateways the client already has a tunnel to; the portal prefers them. */
  connectedGatewayIds: z.array(z.string().max(64)).max(1024),
});

export const ClientToPortal = z.discriminatedUnion('type', [RegisterDevice, RequestAuthorization]);
export type ClientToPortal = z.infer<typeof ClientToPortal>;

// ---- portal → client -------------------------------------------------------------------------------------------

export const MappedRanges = z.object({ ipv4: z.cidrv4(), ipv6: z.cidrv6() });
export type MappedRanges = z.infer<typeof MappedRanges>;

export const ClientInit = z.object({
  type: z.literal('init'),
  device: z.object({ id: z.string().max(64), tunnel: TunnelAddresses }),
  account: z.object({ id: z.string().max(64), email: z.string().max(320) }),
  /** Only the resources a policy grants this account. */
  resources: z.array(Resource),
  /** Admin-configured upstreams; empty means "use the host's resolvers". */
  upstreamResolvers: z.array(z.union([z.ipv4(), z.ipv6()])).max(16),
  blockRules: z.array(BlockRule),
  /** Overrides the default mapped-IP ranges (Local Network Access rules treat CGNAT space as local). */
  mappedRanges: MappedRanges.optional(),
});

export const ResourceCreatedOrUpdated = z.object({
  type: z.literal('resource_created_or_updated'),
  resource: Resource,
});
export const ResourceDeleted = z.object({ type: z.literal('resource_deleted'), resourceId: ResourceId });

export const ConfigChanged = z.object({
  type: z.literal('config_changed'),
  upstreamResolvers: z.array(z.union([z.ipv4(), z.ipv6()])).max(16),
  blockRules: z.array(BlockRule),
  /** Like `init`'s: the full current value, absent meaning the default ranges. */
  mappedRanges: MappedRanges.optional(),
});

export const GatewayInfo = z.object({
  id: z.string().max(64),
  siteId: z.string().max(64),
  publicKey: WireGuardKey,
  endpoint: Endpoint,
  tunnel: TunnelAddresses,
  /**
   * The portal's id for the gateway's current connection (one per WebSocket session, so one per gateway process
   * run). When it changes, the gateway has restarted or reconnected and may have lost its WireGuard sessions and
   * DNS-resource NAT: the client starts a new handshake and sends `assigned_ips` again. Absent from older portals.
   */
  connectionId: z.string().max(64).optional(),
});
export type GatewayInfo = z.infer<typeof GatewayInfo>;

/**
 * The gateway installed an authorization: the answer to `request_authorization`, and pushed again (with the same
 * preshared key and expiry, a new `gateway.connectionId`) when the gateway reconnected and re-installed it.
 */
export const AuthorizationCreated = z.object({
  type: z.literal('authorization_created'),
  resourceId: ResourceId,
  gateway: GatewayInfo,
  /** Per (client, gateway) WireGuard preshared key, base64. */
  presharedKey: WireGuardKey,
  /** Unix epoch milliseconds; the client asks again after this. */
  expiresAt: z.number().int(),
});
export type AuthorizationCreated = z.infer<typeof AuthorizationCreated>;

export const AuthorizationFailed = z.object({
  type: z.literal('authorization_failed'),
  resourceId: ResourceId,
  reason: z.enum(['not_found', 'forbidden', 'offline', 'internal']),
  message: z.string().max(1024),
});

/** A malformed or unknown message; the socket stays open. */
export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.enum(['malformed', 'unknown_type', 'too_large', 'not_registered', 'internal']),
  message: z.string().max(1024),
});

export const PortalToClient = z.discriminatedUnion('type', [
  ClientInit,
  ResourceCreatedOrUpdated,
  ResourceDeleted,
  ConfigChanged,
  AuthorizationCreated,
  AuthorizationFailed,
  ErrorFrame,
]);
export type PortalToClient = z.infer<typeof PortalToClient>;
