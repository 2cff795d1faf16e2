import { expect, it } from 'vitest';
import { CORP_GATEWAY_TOKEN, describeEngines, portalPerTest } from '../testing/fixture.js';
import { openClient, registeredGateway, upgradeStatus, wsUrl } from '../testing/peers.js';
import { MAX_MESSAGE_BYTES } from './sockets.js';

describeEngines('WebSocket bad input', (engine) => {
  const harness = portalPerTest(engine);

  it('answers 401 to unknown, missing, revoked and cross-kind tokens, 404 to other paths', async () => {
    const portal = await harness.start();
    const client = wsUrl(portal.url, '/client/websocket');
    const gateway = wsUrl(portal.url, '/gateway/websocket');
    const alice = await portal.tokenFor('alice@corp.test');
    expect(await upgradeStatus(client, {})).toBe(401);
    expect(await upgradeStatus(client, { authorization: 'Bearer pct_not-a-token' })).toBe(401);
    expect(await upgradeStatus(client, { authorization: `Basic ${alice}` })).toBe(401);
    // A client token does not open the gateway socket, nor a gateway token the client socket.
    expect(await upgradeStatus(gateway, { authorization: `Bearer ${alice}` })).toBe(401);
    expect(await upgradeStatus(client, { authorization: `Bearer ${CORP_GATEWAY_TOKEN}` })).toBe(401);
    expect(await upgradeStatus(wsUrl(portal.url, '/other'), { authorization: `Bearer ${alice}` })).toBe(404);
    expect(await upgradeStatus(client, { authorization: `Bearer ${alice}` })).toBe(101);
    const accounts = await portal.admin<Array<{ id: string; email: string }>>('GET', '/accounts');
    await portal.admin('POST', `/accounts/${accounts.find((a) => a.email === 'alice@corp.test')!.id}/revoke-sessions`);
    expect(await upgradeStatus(client, { authorization: `Bearer ${alice}` })).toBe(401);
  });

  it('answers malformed frames with an error frame and keeps the socket open', async () => {
    const portal = await harness.start();
    const client = await openClient(portal.url, await portal.tokenFor('alice@corp.test'));
    client.send('this is not JSON');
    expect(await client.next('error')).toMatchObject({ code: 'malformed' });
    client.send({ type: 'register_device', publicKey: 'short', name: 'x', os: 'linux', version: '1' } as never);
    expect(await client.next('error')).toMatchObject({
      code: 'malformed',
      message: expect.stringContaining('publicKey'),
    });
    client.send(JSON.stringify({ type: 'launch_missiles' }));
    expect(await client.next('error')).toMatchObject({ code: 'unknown_type' });
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await client.next('error')).toMatchObject({ code: 'malformed' });
    client.send({ type: 'request_authorization', resourceId: 'x', connectedGatewayIds: [] });
    expect(await client.next('error')).toMatchObject({ code: 'not_registered' });
    // Still usable afterwards.
    client.send({
      type: 'register_device',
      publicKey: Buffer.alloc(32, 7).toString('base64'),
      name: 'l',
      os: 'linux',
      version: '1',
    });
    expect((await client.next('init')).account.email).toBe('alice@corp.test');
    client.close();

    const { gateway } = await registeredGateway(portal.url, CORP_GATEWAY_TOKEN);
    gateway.send('{"type":"client_authorized"}');
    expect(await gateway.next('error')).toMatchObject({ code: 'malformed' });
    gateway.send('[]');
    expect(await gateway.next('error')).toMatchObject({ code: 'malformed' });
    gateway.send({ type: 'client_authorized', ref: 'unknown-ref' });
    await gateway.none('error', 100);
    gateway.close();
  });

  it('refuses an oversized message by closing with 1009', async () => {
    const portal = await harness.start();
    const client = await openClient(portal.url, await portal.tokenFor('alice@corp.test'));
    client.send(JSON.stringify({ type: 'register_device', name: 'x'.repeat(MAX_MESSAGE_BYTES) }));
    expect((await client.closed).code).toBe(1009);
  });
});
