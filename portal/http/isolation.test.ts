import { expect, it } from 'vitest';
import { CORP_GATEWAY_TOKEN, describeEngines, portalPerTest } from '../testing/fixture.js';
import { registeredClient, registeredGateway } from '../testing/peers.js';

// No endpoint shows one account another account's data: not the admin API without the admin token, not the
// client API, not the WebSockets.
describeEngines('isolation between accounts', (engine) => {
  const harness = portalPerTest(engine);

  it('keeps every account to its own resources, devices, authorizations and sessions', async () => {
    const p = await harness.start();
    const { gateway } = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    harness.defer(() => gateway.close());
    const aliceToken = await p.tokenFor('alice@corp.test');
    const bobToken = await p.tokenFor('bob@corp.test');
    const alice = await registeredClient(p.url, aliceToken);
    const bob = await registeredClient(p.url, bobToken);
    harness.defer(() => alice.client.close());
    harness.defer(() => bob.client.close());

    // init carries the account's own identity and grants only.
    expect(alice.init.account.email).toBe('alice@corp.test');
    expect(bob.init.account.email).toBe('bob@corp.test');
    expect(JSON.stringify(alice.init)).not.toContain('bob@corp.test');
    expect(JSON.stringify(alice.init)).not.toContain('crm');
    expect(JSON.stringify(bob.init)).not.toMatch(/nas|lab|alice/);

    // Bob asking for alice's resource learns nothing about it, and nothing reaches the gateway.
    const nas = alice.init.resources.find((r) => r.name === 'nas')!;
    bob.client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const refused = await bob.client.next('authorization_failed');
    expect(refused.reason).toBe('forbidden');
    expect(JSON.stringify(refused)).not.toMatch(/nas\.corp|alice/);
    await gateway.none('authorize_client');

    // Alice's authorization and later changes go to alice's socket only.
    alice.client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    await alice.client.next('authorization_created');
    await p.admin('PUT', `/resources/${nas.id}`, { name: 'nas', address: 'nas2.corp.test', site: 'corp' });
    await alice.client.next('resource_created_or_updated');
    await bob.client.none('resource_created_or_updated');
    expect(bob.client.received.filter((m) => m.type !== 'error')).toEqual([]);

    // A device key registered by bob cannot be used to see alice's device: it moves to bob, and alice loses it.
    // (A laptop changing hands keeps its key.) Her socket is closed, her authorization revoked.
    const takeover = await registeredClient(p.url, bobToken, alice.publicKey);
    harness.defer(() => takeover.client.close());
    expect(takeover.init.account.email).toBe('bob@corp.test');
    expect(takeover.init.resources.map((r) => r.name)).toEqual(['crm']);
    expect((await alice.client.closed).code).toBe(4003);
    expect(await gateway.next('revoke_authorization')).toMatchObject({
      clientId: alice.init.device.id,
      resourceId: nas.id,
    });

    // Client tokens open nothing of the admin API; neither do gateway tokens or no token.
    for (const authorization of [`Bearer ${aliceToken}`, `Bearer ${CORP_GATEWAY_TOKEN}`, 'Bearer wrong', '']) {
      for (const path of ['/accounts', '/devices', '/authorizations', '/resources', '/gateways', '/settings']) {
        const response = await fetch(`${p.url}/api/admin${path}`, { headers: authorization ? { authorization } : {} });
        expect([path, response.status]).toEqual([path, 401]);
        expect(await response.text()).not.toMatch(/alice|bob|corp\.test/);
      }
    }
    // Bob's token cannot sign alice out.
    const signOut = await fetch(`${p.url}/api/client/sign-out`, {
      method: 'POST',
      headers: { authorization: 'Bearer pct_x' },
    });
    expect(signOut.status).toBe(401);
  });
});
