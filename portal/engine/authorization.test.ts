import { expect, it } from 'vitest';
import type { Resource } from '../../protocol/resources.js';
import { CORP_GATEWAY_TOKEN, describeEngines, portalPerTest, type TestPortal } from '../testing/fixture.js';
import { registeredClient, registeredGateway } from '../testing/peers.js';

// Policy decisions, gateway selection and revocation, end to end over real sockets against both engines.
describeEngines('authorization', (engine) => {
  const harness = portalPerTest(engine);
  const closers = { push: (...closes: Array<() => unknown>) => closes.forEach((c) => harness.defer(c)) };
  const start = (timings = {}) => harness.start({ timings });
  const byName = (resources: Resource[], name: string) => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}`);
    return found;
  };

  /** Alice's device holding a live authorization for nas through one corp gateway. */
  const aliceUsingNas = async (p: TestPortal) => {
    const { gateway, publicKey } = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    closers.push(() => gateway.close());
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = byName(init.resources, 'nas');
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    await client.next('authorization_created');
    return { gateway, gatewayKey: publicKey, client, init, nas };
  };

  it('sends init with only granted resources, and authorizes a granted one through the site gateway', async () => {
    const p = await start();
    const { gateway, init: gwInit } = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    closers.push(() => gateway.close());
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());

    expect(init.account.email).toBe('alice@corp.test');
    expect(init.resources.map((r) => r.name).sort()).toEqual(['lab', 'nas']);
    expect(init.upstreamResolvers).toEqual(['192.0.2.53']);
    expect(init.blockRules).toEqual([{ pattern: 'ads.corp.test' }, { pattern: 'wpad.corp.test', answer: '0.0.0.0' }]);
    expect(init.device.tunnel.ipv4).toMatch(/^100\.(6[4-9]|[7-8]\d|9[0-5])\./);
    expect(init.device.tunnel.ipv6).toMatch(/^fd00:2021:1111::/);

    const nas = byName(init.resources, 'nas');
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const toGateway = await gateway.next('authorize_client');
    expect(toGateway.client).toEqual({ id: init.device.id, publicKey: expect.any(String), tunnel: init.device.tunnel });
    expect(toGateway.resource).toEqual(nas);
    const created = await client.next('authorization_created');
    expect(created.gateway.id).toBe(gwInit.gateway.id);
    expect(created.gateway.tunnel).toEqual(gwInit.gateway.tunnel);
    expect(created.presharedKey).toBe(toGateway.presharedKey);
    expect(created.expiresAt).toBe(toGateway.expiresAt);
  });

  it('refuses a resource no policy grants, an unknown one, and one whose site has no gateway online', async () => {
    const p = await start();
    const { gateway } = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    closers.push(() => gateway.close());
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const resources = await p.admin<Array<{ id: string; name: string }>>('GET', '/resources');
    const crm = resources.find((r) => r.name === 'crm');

    client.send({ type: 'request_authorization', resourceId: crm!.id, connectedGatewayIds: [] });
    expect(await client.next('authorization_failed')).toMatchObject({ resourceId: crm!.id, reason: 'forbidden' });
    client.send({ type: 'request_authorization', resourceId: 'no-such-resource', connectedGatewayIds: [] });
    expect(await client.next('authorization_failed')).toMatchObject({ reason: 'not_found' });
    // lab lives in the branch site, where no gateway is connected.
    client.send({
      type: 'request_authorization',
      resourceId: byName(init.resources, 'lab').id,
      connectedGatewayIds: [],
    });
    expect(await client.next('authorization_failed')).toMatchObject({ reason: 'offline' });
    await gateway.none('authorize_client');
  });

  it('tells the client only after the gateway acknowledged, and fails when it never does', async () => {
    const p = await start({ gatewayAckTimeoutMs: 400 });
    const { gateway } = await registeredGateway(p.url, CORP_GATEWAY_TOKEN, { ack: false });
    closers.push(() => gateway.close());
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = byName(init.resources, 'nas');

    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const request = await gateway.next('authorize_client');
    await client.none('authorization_created', 150);
    gateway.send({ type: 'client_authorized', ref: request.ref });
    await client.next('authorization_created');

    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    await gateway.next('authorize_client');
    expect(await client.next('authorization_failed')).toMatchObject({ reason: 'offline' });
    expect(await p.admin<unknown[]>('GET', '/authorizations')).toEqual([]);
  });

  it('revokes on client and gateway when the resource is removed mid-session', async () => {
    const p = await start();
    const { gateway, client, init, nas } = await aliceUsingNas(p);

    const started = Date.now();
    await p.admin('DELETE', `/resources/${nas.id}`, undefined, 204);
    expect(await client.next('resource_deleted')).toEqual({ type: 'resource_deleted', resourceId: nas.id });
    expect(await gateway.next('revoke_authorization')).toEqual({
      type: 'revoke_authorization',
      clientId: init.device.id,
      resourceId: nas.id,
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('revokes when the policy goes, pushes a new grant, and pushes resource and setting changes', async () => {
    const p = await start();
    const { gateway, client, init, nas } = await aliceUsingNas(p);

    const policies = await p.admin<Array<{ id: string; group: { name: string }; resource: { name: string } }>>(
      'GET',
      '/policies',
    );
    const grant = policies.find((x) => x.group.name === 'engineering' && x.resource.name === 'nas');
    await p.admin('DELETE', `/policies/${grant!.id}`, undefined, 204);
    expect(await client.next('resource_deleted')).toMatchObject({ resourceId: nas.id });
    expect(await gateway.next('revoke_authorization')).toMatchObject({ clientId: init.device.id, resourceId: nas.id });

    await p.admin('POST', '/policies', { group: 'engineering', resource: 'crm' });
    expect((await client.next('resource_created_or_updated')).resource).toMatchObject({
      name: 'crm',
      address: '*.crm.corp.test',
    });

    const lab = byName(init.resources, 'lab');
    await p.admin('PUT', `/resources/${lab.id}`, {
      name: 'lab',
      address: '10.20.0.0/24',
      site: 'branch',
      filters: ['tcp/22'],
    });
    expect((await client.next('resource_created_or_updated')).resource).toMatchObject({
      id: lab.id,
      address: '10.20.0.0/24',
      filters: [{ protocol: 'tcp', portStart: 22, portEnd: 22 }],
    });

    await p.admin('PUT', '/settings', { upstream_resolvers: ['2001:db8::53'], blocked_domains: ['*.tracker.test'] });
    expect(await client.next('config_changed')).toEqual({
      type: 'config_changed',
      upstreamResolvers: ['2001:db8::53'],
      blockRules: [{ pattern: '*.tracker.test' }],
    });
  });

  it('closes the client socket and revokes on gateways when the session is revoked', async () => {
    const p = await start();
    const { gateway, client, init, nas } = await aliceUsingNas(p);

    await p.admin('POST', `/accounts/${init.account.id}/revoke-sessions`);
    expect((await client.closed).code).toBe(4001);
    expect(await gateway.next('revoke_authorization')).toMatchObject({ clientId: init.device.id, resourceId: nas.id });
  });

  it('selects the connected gateway, then the least loaded, and skips one that went offline', async () => {
    const p = await start();
    const one = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    const two = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    closers.push(
      () => one.gateway.close(),
      () => two.gateway.close(),
    );
    const alice = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    const bob = await registeredClient(p.url, await p.tokenFor('bob@corp.test'));
    closers.push(
      () => alice.client.close(),
      () => bob.client.close(),
    );
    const nas = byName(alice.init.resources, 'nas');
    const crm = byName(bob.init.resources, 'crm');

    // Alice asks for nas and names gateway two as already connected: two is chosen though both are idle.
    alice.client.send({
      type: 'request_authorization',
      resourceId: nas.id,
      connectedGatewayIds: [two.init.gateway.id],
    });
    expect((await alice.client.next('authorization_created')).gateway.id).toBe(two.init.gateway.id);
    // Bob has no tunnel yet: the least loaded gateway (one) serves him.
    bob.client.send({ type: 'request_authorization', resourceId: crm.id, connectedGatewayIds: [] });
    expect((await bob.client.next('authorization_created')).gateway.id).toBe(one.init.gateway.id);

    // Gateway one's socket dies without a close frame: the heartbeat notices, and bob is moved to two.
    one.gateway.ws.pause();
    one.gateway.ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    bob.client.send({ type: 'request_authorization', resourceId: crm.id, connectedGatewayIds: [one.init.gateway.id] });
    expect((await bob.client.next('authorization_created')).gateway.id).toBe(two.init.gateway.id);
    // The authorization moved: the old gateway (if it comes back) must drop it.
    const gateways = await p.admin<Array<{ id: string; online: boolean }>>('GET', '/gateways');
    expect(gateways.find((g) => g.id === one.init.gateway.id)?.online).toBe(false);
  });

  it('detects a silent gateway by heartbeat and re-sends live authorizations when it reconnects', async () => {
    const p = await start();
    const first = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = byName(init.resources, 'nas');
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const created = await client.next('authorization_created');

    // Stop reading (a hung gateway, no pongs, no close): the portal drops it within a few heartbeats.
    (first.gateway.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    closers.push(() => first.gateway.close());
    const deadline = Date.now() + 2000;
    const online = async () =>
      (await p.admin<Array<{ id: string; online: boolean }>>('GET', '/gateways')).find(
        (g) => g.id === first.init.gateway.id,
      )?.online;
    while ((await online()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await online()).toBe(false);

    const again = await registeredGateway(p.url, CORP_GATEWAY_TOKEN, { publicKey: first.publicKey });
    closers.push(() => again.gateway.close());
    expect(again.init.gateway).toEqual(first.init.gateway);
    const replay = await again.gateway.next('authorize_client');
    expect(replay).toMatchObject({
      client: { id: init.device.id },
      resource: { id: nas.id },
      presharedKey: created.presharedKey,
    });
  });

  it('pushes a re-installed authorization to its client with the new connection id, once the gateway acknowledged it', async () => {
    const p = await start();
    const first = await registeredGateway(p.url, CORP_GATEWAY_TOKEN);
    closers.push(() => first.gateway.close());
    const { client, init } = await registeredClient(p.url, await p.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = byName(init.resources, 'nas');
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const created = await client.next('authorization_created');
    expect(created.gateway.connectionId).toEqual(expect.any(String));

    // The gateway restarts: same key, a new connection. Nothing reaches the client before the gateway installed it.
    const again = await registeredGateway(p.url, CORP_GATEWAY_TOKEN, { publicKey: first.publicKey, ack: false });
    closers.push(() => again.gateway.close());
    const replay = await again.gateway.next('authorize_client');
    await client.none('authorization_created', 200);
    again.gateway.send({ type: 'client_authorized', ref: replay.ref });
    const pushed = await client.next('authorization_created');
    expect(pushed).toEqual({
      ...created,
      gateway: { ...created.gateway, connectionId: expect.any(String) },
    });
    expect(pushed.gateway.connectionId).not.toBe(created.gateway.connectionId);

    // Answers through the new connection carry its id; acknowledging the replay again pushes nothing more.
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [again.init.gateway.id] });
    again.gateway.send({ type: 'client_authorized', ref: (await again.gateway.next('authorize_client')).ref });
    expect((await client.next('authorization_created')).gateway.connectionId).toBe(pushed.gateway.connectionId);
    again.gateway.send({ type: 'client_authorized', ref: replay.ref });
    await client.none('authorization_created');
  });

  it('does not push a re-installed authorization that was revoked before the gateway acknowledged it', async () => {
    const p = await start();
    const { gatewayKey, client, init, nas } = await aliceUsingNas(p);
    const again = await registeredGateway(p.url, CORP_GATEWAY_TOKEN, { publicKey: gatewayKey, ack: false });
    closers.push(() => again.gateway.close());
    const replay = await again.gateway.next('authorize_client');

    const policies = await p.admin<Array<{ id: string; group: { name: string }; resource: { name: string } }>>(
      'GET',
      '/policies',
    );
    const grant = policies.find((x) => x.group.name === 'engineering' && x.resource.name === 'nas');
    await p.admin('DELETE', `/policies/${grant!.id}`, undefined, 204);
    expect(await client.next('resource_deleted')).toMatchObject({ resourceId: nas.id });
    expect(await again.gateway.next('revoke_authorization')).toMatchObject({ clientId: init.device.id });
    again.gateway.send({ type: 'client_authorized', ref: replay.ref });
    await client.none('authorization_created');
  });
});
