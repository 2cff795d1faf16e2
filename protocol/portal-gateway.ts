import { z } from 'zod';
import { Endpoint, Resource, ResourceId, TunnelAddresses, WireGuardKey } from './resources.js';
import { ErrorFrame } from './portal-client.js';

/**
 * Messages between a gateway and the portal over the gateway WebSocket (`/gateway/websocket`). The site's gateway
 * token travels in the `Authorization: Bearer` header of the upgrade request. Presence is the open socket plus
 * WebSocket ping/pong.
 */

// ---- gateway → portal ------------------------------------------------------------------------------------------

export const RegisterGateway = z.object({
  type: z.literal('register_gateway'),
  publicKey: WireGuardKey,
  /** Where clients send WireGuard datagrams. */
  endpoint: Endpoint,
  name: z.string().min(1).max(255),
  version: z.string().max(64),
});

/** The gateway installed an authorization; only then does the portal tell the client. */
export const ClientAuthorized = z.object({ type: z.literal('client_authorized'), ref: z.string().max(64) });

export const GatewayToPortal = z.discriminatedUnion('type', [RegisterGateway, ClientAuthorized]);
export type GatewayToPortal = z.infer<typeof GatewayToPortal>;

// ---- portal → gateway ------------------------------------------------------------------------------------------

export const GatewayInit = z.object({
  type: z.literal('init'),
  gateway: z.object({ id: z.string().max(64), siteId: z.string().max(64), tunnel: TunnelAddresses }),
});

export const ClientInfo = z.object({
  id: z.string().max(64),
  publicKey: WireGuardKey,
  tunnel: TunnelAddresses,
});
export type ClientInfo = z.infer<typeof ClientInfo>;

/** Let this client reach this resource until `expiresAt` (Unix epoch ms). Replaces an earlier one for the pair. */
export const AuthorizeClient = z.object({
  type: z.literal('authorize_client'),
  ref: z.string().max(64),
  client: ClientInfo,
  resource: Resource,
  presharedKey: WireGuardKey,
  expiresAt: z.number().int(),
});
export type AuthorizeClient = z.infer<typeof AuthorizeClient>;

/** Withdraw one authorization (policy or resource removed), or every one of a client (session revoked). */
export const RevokeAuthorization = z.object({
  type: z.literal('revoke_authorization'),
  clientId: z.string().max(64),
  resourceId: ResourceId.optional(),
});

/** A resource's definition changed (address, filters); gateways re-check live flows against it. */
export const GatewayResourceUpdated = z.object({ type: z.literal('resource_updated'), resource: Resource });

export const PortalToGateway = z.discriminatedUnion('type', [
  GatewayInit,
  AuthorizeClient,
  RevokeAuthorization,
  GatewayResourceUpdated,
  ErrorFrame,
]);
export type PortalToGateway = z.infer<typeof PortalToGateway>;
