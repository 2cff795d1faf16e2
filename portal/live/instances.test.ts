import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresEngine, postgresUnavailableReason, type TestEngine } from '../testing/engines.js';
import { BASE_YAML, CORP_GATEWAY_TOKEN, startTestPortal, type TestPortal } from '../testing/fixture.js';
import { registeredClient, registeredGateway } from '../testing/peers.js';

const reason = postgresUnavailableReason();
if (reason) console.warn(`skipping two-instance tests: ${reason}`);

// Two portal processes' worth of state (two Hubs, two HTTP servers, two connection pools) on one PostgreSQL.
describe.skipIf(reason !== undefined)('two portal instances on one PostgreSQL', { timeout: 30_000 }, () => {
  let engine: TestEngine | undefined;
  const portals: TestPortal[] = [];
  const closers: Array<() => void> = [];
  beforeAll(async () => {
    engine = await postgresEngine();
  }, 60_000);
  afterAll(async () => engine?.stop());
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    for (const p of portals.splice(0)) await p.close();
  });

  const pair = async () => {
    const database = await engine!.database();
    const a = await startTestPortal(engine!, { yaml: BASE_YAML, database });
    portals.push(a);
    const b = await startTestPortal(engine!, { yaml: BASE_YAML, database });
    portals.push(b);
    return [a, b] as const;
  };

  it('pushes a change made on one instance to a client connected to the other', async () => {
    const [a, b] = await pair();
    const { client, init } = await registeredClient(b.url, await b.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    await a.admin('POST', '/resources', { name: 'wiki', address: 'wiki.corp.test', site: 'corp' });
    await a.admin('POST', '/policies', { group: 'engineering', resource: 'wiki' });
    expect((await client.next('resource_created_or_updated')).resource).toMatchObject({ name: 'wiki', type: 'dns' });
    const nas = init.resources.find((r) => r.name === 'nas')!;
    await a.admin('DELETE', `/resources/${nas.id}`, undefined, 204);
    expect(await client.next('resource_deleted')).toMatchObject({ resourceId: nas.id });
  });

  it('authorizes a client on one instance through a gateway connected to the other, and revokes across', async () => {
    const [a, b] = await pair();
    const { gateway } = await registeredGateway(a.url, CORP_GATEWAY_TOKEN);
    closers.push(() => gateway.close());
    const { client, init } = await registeredClient(b.url, await b.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = init.resources.find((r) => r.name === 'nas')!;
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const request = await gateway.next('authorize_client');
    expect(request.client.id).toBe(init.device.id);
    await client.next('authorization_created');

    await b.admin('POST', `/accounts/${init.account.id}/revoke-sessions`);
    expect(await gateway.next('revoke_authorization')).toMatchObject({ clientId: init.device.id, resourceId: nas.id });
    expect((await client.closed).code).toBe(4001);
  });

  it('lets a gateway reconnecting to the other instance take over, closing its old socket', async () => {
    const [a, b] = await pair();
    const first = await registeredGateway(a.url, CORP_GATEWAY_TOKEN);
    const second = await registeredGateway(b.url, CORP_GATEWAY_TOKEN, { publicKey: first.publicKey });
    closers.push(() => second.gateway.close());
    expect(second.init.gateway.id).toBe(first.init.gateway.id);
    expect((await first.gateway.closed).code).toBe(4002);
  });

  it('pushes authorizations a reconnecting gateway re-installed to clients on the other instance', async () => {
    const [a, b] = await pair();
    const first = await registeredGateway(a.url, CORP_GATEWAY_TOKEN);
    closers.push(() => first.gateway.close());
    const { client, init } = await registeredClient(b.url, await b.tokenFor('alice@corp.test'));
    closers.push(() => client.close());
    const nas = init.resources.find((r) => r.name === 'nas')!;
    client.send({ type: 'request_authorization', resourceId: nas.id, connectedGatewayIds: [] });
    const created = await client.next('authorization_created');

    // The gateway restarts and comes back through instance a; the client's socket is on b.
    const again = await registeredGateway(a.url, CORP_GATEWAY_TOKEN, { publicKey: first.publicKey });
    closers.push(() => again.gateway.close());
    await again.gateway.next('authorize_client');
    const pushed = await client.next('authorization_created');
    expect(pushed).toMatchObject({ resourceId: nas.id, presharedKey: created.presharedKey });
    expect(pushed.gateway.connectionId).toEqual(expect.any(String));
    expect(pushed.gateway.connectionId).not.toBe(created.gateway.connectionId);
  });
});
