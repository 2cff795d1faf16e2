/**
 * The line protocol between an interop test and its WireGuard driver process (driver.ts), one JSON object per line
 * on stdin (commands) and stdout (events), validated with zod on receipt on both sides. Test-only: it never leaves
 * e2e/, so it lives here rather than in protocol/.
 */
import { z } from 'zod';

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const Endpoint = z.object({ host: z.string(), port: z.number().int().min(0).max(65535) });

export const DriverConfig = z.object({
  privateKey: z.string(),
  /** Local address to bind the UDP socket to; port 0 for any. */
  listen: Endpoint,
  peers: z.array(
    z.object({
      publicKey: z.string(),
      presharedKey: z.string().optional(),
      endpoint: Endpoint.optional(),
      allowedIps: z.array(z.string()),
      persistentKeepalive: z.number().int().optional(),
    }),
  ),
  /** A deterministic random stream (known-answer captures only). */
  seed: z.string().optional(),
  /** Shortened protocol timers (ms), e.g. to see rekeys within seconds. */
  timers: z.record(z.string(), z.number()).optional(),
  underLoadHandshakesPerSecond: z.number().int().min(0).optional(),
  /** A TUN device for the tunnel's packets; without one, packets travel over stdio (`send` / `packet`). */
  tun: z.object({ name: z.string(), mtu: z.number().int(), addresses: z.array(z.string()) }).optional(),
  /** Report every datagram in and out, with its `now` (for captures). */
  record: z.boolean().optional(),
});
export type DriverConfig = z.infer<typeof DriverConfig>;

export const DriverCommand = z.discriminatedUnion('cmd', [
  /** Encapsulate an IP packet (stdio mode). */
  z.object({ cmd: z.literal('send'), packet: Hex }),
  /** Move to a new UDP socket on a new port (roaming). */
  z.object({ cmd: z.literal('rebind') }),
  z.object({ cmd: z.literal('stats') }),
]);
export type DriverCommand = z.infer<typeof DriverCommand>;

export const DriverEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('ready'), port: z.number(), tun: z.string().optional() }),
  z.object({ event: z.literal('rebound'), port: z.number() }),
  z.object({ event: z.literal('wg'), type: z.string(), now: z.number() }),
  z.object({ event: z.literal('packet'), packet: Hex, now: z.number() }),
  z.object({ event: z.literal('datagram'), direction: z.enum(['in', 'out']), data: Hex, now: z.number() }),
  z.object({
    event: z.literal('stats'),
    device: z.record(z.string(), z.unknown()),
    peers: z.array(z.object({ publicKey: z.string(), stats: z.record(z.string(), z.number()) })),
    tun: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ event: z.literal('error'), message: z.string() }),
]);
export type DriverEvent = z.infer<typeof DriverEvent>;
