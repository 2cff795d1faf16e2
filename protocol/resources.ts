import { z } from 'zod';

/**
 * Resources as the portal sends them to clients and gateways. An admin writes an address; the portal classifies it:
 * a DNS pattern (`nas.corp.test`, `*.corp.test`, `?.corp.test`) or a CIDR range (a bare IP becomes a /32 or /128).
 */

export const ResourceId = z.string().min(1).max(64);
export type ResourceId = z.infer<typeof ResourceId>;

/** One allowed protocol/port range. An empty filter list means everything is allowed. */
export const Filter = z.discriminatedUnion('protocol', [
  z.object({
    protocol: z.enum(['tcp', 'udp']),
    portStart: z.number().int().min(1).max(65535),
    portEnd: z.number().int().min(1).max(65535),
  }),
  z.object({ protocol: z.literal('icmp') }),
]);
export type Filter = z.infer<typeof Filter>;

export const IpStack = z.enum(['dual', 'ipv4', 'ipv6']);
export type IpStack = z.infer<typeof IpStack>;

const common = {
  id: ResourceId,
  name: z.string().min(1).max(255),
  siteId: z.string().min(1).max(64),
  filters: z.array(Filter).max(64),
};

export const DnsResource = z.object({
  ...common,
  type: z.literal('dns'),
  /** Exact name, `*.suffix` (any depth, apex too) or `?.suffix` (exactly one label); lower case, no trailing dot. */
  address: z.string().min(1).max(253),
  ipStack: IpStack,
});
export type DnsResource = z.infer<typeof DnsResource>;

export const CidrResource = z.object({
  ...common,
  type: z.literal('cidr'),
  address: z.union([z.cidrv4(), z.cidrv6()]),
});
export type CidrResource = z.infer<typeof CidrResource>;

export const Resource = z.discriminatedUnion('type', [DnsResource, CidrResource]);
export type Resource = z.infer<typeof Resource>;

/** dns-firewall's `-|` rule: answer REFUSED, or the static address when one is given. */
export const BlockRule = z.object({
  pattern: z.string().min(1).max(253),
  answer: z.union([z.ipv4(), z.ipv6()]).optional(),
});
export type BlockRule = z.infer<typeof BlockRule>;

export const Endpoint = z.object({
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
});
export type Endpoint = z.infer<typeof Endpoint>;

/** Base64 of 32 bytes: the form `wg` prints keys in. */
export const WireGuardKey = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, 'a WireGuard key is 32 bytes in base64 (44 characters ending in "=")');
export type WireGuardKey = z.infer<typeof WireGuardKey>;

export const TunnelAddresses = z.object({ ipv4: z.ipv4(), ipv6: z.ipv6() });
export type TunnelAddresses = z.infer<typeof TunnelAddresses>;
