import { describe, expect, it } from 'vitest';
import { PortalToClient, type AuthorizationCreated } from './portal-client.js';

const created: AuthorizationCreated = {
  type: 'authorization_created',
  resourceId: 'r1',
  gateway: {
    id: 'g1',
    siteId: 's1',
    publicKey: 'A'.repeat(43) + '=',
    endpoint: { host: '192.0.2.1', port: 51820 },
    tunnel: { ipv4: '100.64.0.9', ipv6: 'fd00:2021:1111::9' },
    connectionId: '0b6f6c1e-7d1c-4c55-9f0e-3a8f6f2b9b11',
  },
  presharedKey: 'B'.repeat(43) + '=',
  expiresAt: 1_700_000_000_000,
};

describe('authorization_created', () => {
  it('carries the gateway’s connection id, and stays valid without one (older portals)', () => {
    expect(PortalToClient.parse(created)).toEqual(created);
    const { connectionId: _, ...withoutId } = created.gateway;
    expect(PortalToClient.parse({ ...created, gateway: withoutId })).toEqual({ ...created, gateway: withoutId });
  });

  it('rejects a connection id that is not a short string', () => {
    for (const connectionId of [42, 'x'.repeat(65), null]) {
      expect(PortalToClient.safeParse({ ...created, gateway: { ...created.gateway, connectionId } }).success).toBe(
        false,
      );
    }
  });
});
