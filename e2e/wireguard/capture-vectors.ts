/**
 * Records known-answer vectors from a real wireguard-go, for tunnel/wireguard/vectors.test.ts:
 *
 *   npx tsc -b && sudo node dist/e2e/wireguard/capture-vectors.js > tunnel/wireguard/vectors/wireguard-go.json
 *
 * Two exchanges in network namespaces, each with fresh `wg genkey` keys and our driver on a seeded random stream
 * (so the replay in the unit test makes byte-identical messages):
 * - initiator: we send an ICMP echo request to wireguard-go's tunnel address: our initiation, its response, our
 *   first transport message, and its transport message carrying the kernel's echo reply.
 * - responder: wireguard-go pings us: its initiation, our response, its transport message with the echo request.
 */
import { run, Namespace, connect } from '../netns/index.js';
import { Driver, ensureBuilt, WireguardGo, wgKeyPair } from './harness.js';
import { icmpEchoRequest } from './packets.js';
import type { DriverEvent } from './driver-protocol.js';

type Datagram = Extract<DriverEvent, { event: 'datagram' }>;

async function exchange(role: 'initiator' | 'responder') {
  const ours = await Namespace.create('kat-ours');
  const theirs = await Namespace.create('kat-wg');
  try {
    await connect(ours, theirs, { a: ['10.88.0.1/24'], b: ['10.88.0.2/24'] });
    const us = await wgKeyPair();
    const them = await wgKeyPair();
    const seed = `kat-${role}`;
    const wg = await WireguardGo.start(theirs, {
      privateKey: them.privateKey,
      listenPort: 51820,
      address: '10.99.0.2/24',
      peers: [
        {
          publicKey: us.publicKey,
          allowedIps: ['10.99.0.1/32'],
          endpoint: role === 'responder' ? '10.88.0.1:51820' : undefined,
        },
      ],
    });
    const peer = {
      publicKey: them.publicKey,
      allowedIps: ['10.99.0.0/24'],
      endpoint: role === 'initiator' ? { host: '10.88.0.2', port: 51820 } : undefined,
    };
    const driver = await Driver.start(ours, {
      privateKey: us.privateKey,
      listen: { host: '10.88.0.1', port: role === 'responder' ? 51820 : 0 },
      peers: [peer],
      seed,
      record: true,
    });
    let sent: string | undefined;
    if (role === 'initiator') {
      sent = icmpEchoRequest('10.99.0.1', '10.99.0.2', 0x1234, 1).toString('hex');
      driver.command({ cmd: 'send', packet: sent });
    } else {
      await theirs.exec('ping', ['-c', '1', '-W', '3', '10.99.0.1'], { allowFailure: true });
    }
    const packet = await driver.waitFor((e) => e.event === 'packet', 10_000);
    const datagrams = driver.events.filter((e): e is Datagram => e.event === 'datagram');
    await driver.stop();
    await wg.stop();
    return {
      ourPrivateKey: us.privateKey,
      peerPrivateKey: them.privateKey,
      peer,
      seed,
      sentPacket: sent,
      receivedPacket: packet.event === 'packet' ? packet.packet : undefined,
      datagrams: datagrams.map(({ direction, data, now }) => ({ direction, data, now })),
    };
  } finally {
    await ours.destroy();
    await theirs.destroy();
  }
}

await ensureBuilt();
const version = (await run('wireguard-go', ['--version'])).stdout.split('\n')[0];
const initiator = await exchange('initiator');
const responder = await exchange('responder');
process.stdout.write(
  `${JSON.stringify({ capturedWith: version, capturedAt: new Date().toISOString(), initiator, responder }, null, 2)}\n`,
);
