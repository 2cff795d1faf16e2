import { z } from 'zod';
import { ResourceId } from './resources.js';

/**
 * Control messages between a client and a gateway that travel *inside* the WireGuard tunnel, as UDP datagrams from
 * the client's tunnel address to the gateway's tunnel address on CONTROL_PORT (and back). Like every IP packet in
 * the tunnel they may be lost; the client's DNS-resource-NAT state machine retries (seed 003).
 */
export const CONTROL_PORT = 3443;

/**
 * How many times `assigned_ips` and `domain_status` are sent, back to back. A domain's NAT needs one of each to get
 * through, and the client's next try waits 2 s (seed 003): on a path losing 30 % of packets a single copy each way
 * gets through half the time, two copies four times in five. Receivers treat copies as the same message (the
 * gateway joins the resolution already under way; a second status changes nothing).
 */
export const CONTROL_COPIES = 2;

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

/**
 * The client sent a packet to `proxyIp`, but the gateway has no NAT for it (it restarted, or dropped the mapping) and
 * no authorization covers it: the packet was dropped. The client re-sends `assigned_ips` for the domain owning the
 * mapped IP (at most every 2 s) and ignores addresses it did not assign. The gateway sends at most one a second per
 * (client, address).
 */
export const NatMissing = z.object({
  type: z.literal('nat_missing'),
  proxyIp: z.union([z.ipv4(), z.ipv6()]),
});
export type NatMissing = z.infer<typeof NatMissing>;

export const ClientToGateway = z.discriminatedUnion('type', [AssignedIps]);
export type ClientToGateway = z.infer<typeof ClientToGateway>;
export const GatewayToClient = z.discriminatedUnion('type', [DomainStatus, NatMissing]);
export type GatewayToClient = z.infer<typeof GatewayToClient>;

/** A control message as the UDP payload: UTF-8 JSON (one message per datagram). */
export function encodeTunnelControl(message: ClientToGateway | GatewayToClient): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

export type TunnelControlResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses and validates a gateway → client control payload; never throws. */
export function decodeGatewayToClient(payload: Uint8Array): TunnelControlResult<GatewayToClient> {
  return decode(payload, GatewayToClient);
}

/** Parses and validates a client → gateway control payload; never throws. */
export function decodeClientToGateway(payload: Uint8Array): TunnelControlResult<ClientToGateway> {
  return decode(payload, ClientToGateway);
}

function decode<T>(payload: Uint8Array, schema: z.ZodType<T>): TunnelControlResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (error) {
    return { ok: false, error: `not UTF-8 JSON: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error.message };
}
