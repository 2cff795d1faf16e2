import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTROL_PORT } from '../../protocol/tunnel-control.js';
import { buildTcp, buildUdp, parseAddress } from '../packet/index.js';
import { GatewayState } from './state.js';

/**
 * Whatever a client or the network sends, the gateway never throws, and whatever it forwards is a flow it admitted.
 * `npm run fuzz` scales the runs up with FUZZ_RUNS.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const T0 = 1_800_000_000_000;
const ip = (t: string) => parseAddress(t)!;
const CLIENT = { id: 'c', publicKey: 'A'.repeat(43) + '=', tunnel: { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' } };

function gateway(): GatewayState {
  const state = new GatewayState();
  state.handlePortalMessage(
    { type: 'init', gateway: { id: 'g', siteId: 's', tunnel: { ipv4: '100.64.0.1', ipv6: 'fd00:2021:1111::1' } } },
    T0,
  );
  for (const resource of [
    {
      id: 'web',
      type: 'dns' as const,
      name: 'w',
      siteId: 's',
      address: '*.corp.test',
      ipStack: 'dual' as const,
      filters: [],
    },
    { id: 'net', type: 'cidr' as const, name: 'n', siteId: 's', address: '10.1.0.0/16', filters: [] },
  ]) {
    state.handlePortalMessage(
      {
        type: 'authorize_client',
        ref: resource.id,
        client: CLIENT,
        resource,
        presharedKey: 'P'.repeat(43) + '=',
        expiresAt: T0 + 1e9,
      },
      T0,
    );
  }
  return state;
}

/** Packets that parse often enough to reach deep: a valid TCP/UDP header with fuzzed bytes spliced in. */
const packet = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc
    .tuple(
      fc.constantFrom('10.1.2.3', '100.96.0.1', '100.64.0.1', '10.9.9.9'),
      fc.nat(65535),
      fc.uint8Array({ maxLength: 40 }),
      fc.nat(60),
      fc.boolean(),
    )
    .map(([dst, port, junk, at, tcp]) => {
      const base = tcp
        ? buildTcp({
            src: ip('100.64.0.2'),
            dst: ip(dst),
            srcPort: port,
            dstPort: 80,
            seq: 0,
            ack: 0,
            flags: 2,
            window: 1,
          })
        : buildUdp({
            src: ip('100.64.0.2'),
            dst: ip(dst),
            srcPort: port,
            dstPort: dst === '100.64.0.1' ? CONTROL_PORT : 53,
            payload: junk,
          });
      const out = Uint8Array.from(base);
      out.set(junk.subarray(0, Math.max(0, out.length - at)), Math.min(at, out.length));
      return out;
    }),
);

describe('GatewayState under fuzzed input', () => {
  it('never throws and only forwards to admitted destinations', () => {
    const state = gateway();
    fc.assert(
      fc.property(packet, fc.boolean(), (bytes, fromClient) => {
        if (fromClient) state.handleClientPacket(CLIENT.id, Buffer.from(bytes), T0);
        else state.handleNetworkPacket(Buffer.from(bytes), T0);
        for (let t = state.pollTransmit(); t; t = state.pollTransmit()) {
          if (t.to !== 'network') continue;
          const dst = t.packet[0]! >> 4 === 4 ? t.packet.subarray(16, 20) : undefined;
          // The only authorized real destinations here are inside 10.1.0.0/16 (nothing was resolved).
          if (dst) expect([dst[0], dst[1]]).toEqual([10, 1]);
        }
        while (state.pollEvent());
        while (state.pollResolveRequest());
      }),
      { numRuns: RUNS },
    );
    expect(state.stats().clients).toBe(1);
  });
});
