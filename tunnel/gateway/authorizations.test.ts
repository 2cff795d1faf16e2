import { describe, expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { parseAddress as parseIp } from '../packet/index.js';
import { AuthorizationTable, type AuthorizeInput } from './authorizations.js';

const T0 = 1_000_000;
const KEY = (c: string) => c.repeat(43) + '=';
const WEB: Resource = {
  id: 'web',
  type: 'dns',
  name: 'w',
  siteId: 's',
  address: '*.corp.test',
  ipStack: 'dual',
  filters: [],
};
const NET: Resource = { id: 'net', type: 'cidr', name: 'n', siteId: 's', address: '10.0.0.0/8', filters: [] };

function input(overrides: Partial<AuthorizeInput> & { key?: string; v4?: string } = {}): AuthorizeInput {
  return {
    client: {
      id: 'c1',
      publicKey: overrides.key ?? KEY('A'),
      tunnel: { ipv4: overrides.v4 ?? '100.64.0.2', ipv6: 'fd00:2021:1111::2' },
    },
    resource: WEB,
    presharedKey: KEY('P'),
    expiresAt: T0 + 1000,
    ...overrides,
  };
}

describe('AuthorizationTable', () => {
  it('announces a peer once, and again only when its keys or addresses change', () => {
    const table = new AuthorizationTable();
    expect(table.authorize(input(), T0)).toMatchObject({ ok: true, peer: { type: 'peer_upserted' } });
    expect(table.authorize(input({ resource: NET }), T0)).toEqual({ ok: true });
    const rekeyed = table.authorize(input({ key: KEY('B') }), T0);
    expect(rekeyed).toMatchObject({
      ok: true,
      peer: { type: 'peer_upserted' },
      replacedPeer: { type: 'peer_removed', publicKey: KEY('A') },
    });
    expect([...table.get('c1')!.authorizations.keys()]).toEqual(['web', 'net']);
    expect(table.byTunnelAddress(parseIp('100.64.0.2')!)?.publicKey).toBe(KEY('B'));
  });

  it('expires authorizations one by one and the client with the last', () => {
    const table = new AuthorizationTable();
    table.authorize(input({ expiresAt: T0 + 10 }), T0);
    table.authorize(input({ resource: NET, expiresAt: T0 + 20 }), T0);
    expect(table.nextExpiry()).toBe(T0 + 10);
    expect(table.expire(T0 + 10)).toEqual({ ended: [{ clientId: 'c1', resourceId: 'web' }], peers: [] });
    expect(table.nextExpiry()).toBe(T0 + 20);
    expect(table.expire(T0 + 20).peers).toEqual([{ type: 'peer_removed', clientId: 'c1', publicKey: KEY('A') }]);
    expect(table.size).toBe(0);
    expect(table.byTunnelAddress(parseIp('100.64.0.2')!)).toBeUndefined();
    expect(table.nextExpiry()).toBeUndefined();
  });

  it('refuses expired authorizations, bad or taken tunnel addresses', () => {
    const table = new AuthorizationTable();
    expect(table.authorize(input({ expiresAt: T0 }), T0)).toEqual({ ok: false, reason: 'expired' });
    expect(table.authorize(input({ v4: 'fd00::1' }), T0)).toEqual({ ok: false, reason: 'bad_tunnel_address' });
    table.authorize(input(), T0);
    const other = input();
    other.client = { ...other.client, id: 'c2', publicKey: KEY('C') };
    expect(table.authorize(other, T0)).toEqual({ ok: false, reason: 'tunnel_address_in_use' });
  });

  it('replaces a resource’s definition for every holder', () => {
    const table = new AuthorizationTable();
    table.authorize(input(), T0);
    const updated = { ...WEB, address: 'only.corp.test' };
    expect(table.updateResource(updated).map((c) => c.id)).toEqual(['c1']);
    expect(table.get('c1')!.authorizations.get('web')!.resource).toBe(updated);
    expect(table.revoke('c1', 'web')).toEqual({
      ended: [{ clientId: 'c1', resourceId: 'web' }],
      peer: { type: 'peer_removed', clientId: 'c1', publicKey: KEY('A') },
    });
  });
});
