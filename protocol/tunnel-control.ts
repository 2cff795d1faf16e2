import { z } from 'zod';
import { ResourceId } from './resources.js';

/**
 * Control messages between a client and a gateway that travel *inside* the WireGuard tunnel, as UDP datagrams from
 * the client's tunnel address to the gateway's tunnel address on CONTROL_PORT (and back). Like every IP packet in
 * the tunnel they may be lost; the client's DNS-resource-NAT state machine retries (seed 003).
 */
export const CONTROL_PORT = 3443;

/** The client assigned these mapped IPs to `domain` (a name matching `resourceId`); please set up the NAT. */
export const AssignedIps = z.object({
  type: z.literal('assigned_ips'),
  resourceId: ResourceId,
  domain: z.string().min(1).max(253),
  proxyIps: z
    .array(z.union([z.ipv4(), z.ipv6()]))
    .min(1)
    .max(16),
});
export type AssignedIps = z.infer<typeof AssignedIps>;

/** Active: the gateway resolved `domain` and NATs the mapped IPs. Inactive: no records, error, or not authorized. */
export const DomainStatus = z.object({
  type: z.literal('domain_status'),
  resourceId: ResourceId,
  domain: z.string().min(1).max(253),
  status: z.enum(['active', 'inactive']),
});
export type DomainStatus = z.infer<typeof DomainStatus>;

export const ClientToGateway = z.discriminatedUnion('type', [AssignedIps]);
export type ClientToGateway = z.infer<typeof ClientToGateway>;
export const GatewayToClient = z.discriminatedUnion('type', [DomainStatus]);
export type GatewayToClient = z.infer<typeof GatewayToClient>;
