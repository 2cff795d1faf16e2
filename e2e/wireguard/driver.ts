/**
 * A minimal WireGuard endpoint for interop tests: one UDP socket, our sans-IO Device, and a TUN device (or stdio
 * for packets). Runs inside a test's network namespace:
 *
 *   ip netns exec NS node dist/e2e/wireguard/driver.js '<DriverConfig JSON>'
 *
 * Commands on stdin, events on stdout, one JSON line each (driver-protocol.ts). It is the smallest real driver of
 * the library — the gateway and the helper do the same with more policy around it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { Device, seededRng, systemRng, type DeviceEvent, type TimerConfig } from '../../tunnel/wireguard/index.js';
import { DriverCommand, DriverConfig, type DriverEvent } from './driver-protocol.js';
import { openTun, type PacketPort } from './tun-port.js';

const config = DriverConfig.parse(JSON.parse(process.argv[2] ?? '{}'));
const now = () => performance.timeOrigin + performance.now();

function emit(event: DriverEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const device = new Device({
  privateKey: config.privateKey,
  rng: config.seed ? seededRng(config.seed) : systemRng(),
  timers: config.timers as Partial<TimerConfig> | undefined,
  underLoadHandshakesPerSecond: config.underLoadHandshakesPerSecond,
  mtu: config.tun?.mtu,
});
for (const peer of config.peers) device.upsertPeer(peer);

/** Where decrypted packets go and encapsulated ones come from. */
const packets: PacketPort = config.tun
  ? await openTun(config.tun, (batch) => batch.forEach(fromTunnelSide))
  : {
      name: undefined,
      write: (packet) => emit({ event: 'packet', packet: Buffer.from(packet).toString('hex'), now: now() }),
      stats: () => undefined,
      close: () => undefined,
    };

let socket = await bind(config.listen.port);
emit({ event: 'ready', port: socket.address().port, tun: packets.name });

function bind(port: number): Promise<Socket> {
  const family = config.listen.host.includes(':') ? 'udp6' : 'udp4';
  const s = createSocket({ type: family });
  s.on('message', (data, rinfo) => {
    const at = now();
    if (config.record) emit({ event: 'datagram', direction: 'in', data: data.toString('hex'), now: at });
    const result = device.handleDatagram(data, { host: rinfo.address, port: rinfo.port }, at);
    if (result.kind === 'packet') packets.write(result.packet);
    afterInput();
  });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, config.listen.host, () => resolve(s));
  });
}

function send(to: { host: string; port: number }, data: Uint8Array, at: number): void {
  if (config.record) emit({ event: 'datagram', direction: 'out', data: Buffer.from(data).toString('hex'), now: at });
  socket.send(data, to.port, to.host);
}

function fromTunnelSide(packet: Uint8Array): void {
  const at = now();
  const result = device.encapsulate(packet, at);
  if (result.kind === 'datagram') send(result.to, result.data, at);
  afterInput();
}

let timer: NodeJS.Timeout | undefined;
/** Drains what the device wants sent and said, and re-arms the timer at its next deadline. */
function afterInput(): void {
  const at = now();
  for (let t = device.pollTransmit(); t; t = device.pollTransmit()) send(t.to, t.data, at);
  for (let e: DeviceEvent | undefined = device.pollEvent(); e; e = device.pollEvent()) {
    emit({ event: 'wg', type: e.type, now: at });
  }
  clearTimeout(timer);
  const deadline = device.pollTimeout();
  if (deadline === undefined) return;
  timer = setTimeout(
    () => {
      device.handleTimeout(now());
      afterInput();
    },
    Math.max(0, deadline - now()),
  );
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  const parsed = DriverCommand.safeParse(JSON.parse(line));
  if (!parsed.success) return emit({ event: 'error', message: `bad command: ${parsed.error.message}` });
  const command = parsed.data;
  if (command.cmd === 'send') fromTunnelSide(Buffer.from(command.packet, 'hex'));
  if (command.cmd === 'rebind') {
    const old = socket;
    socket = await bind(0);
    old.close();
    emit({ event: 'rebound', port: socket.address().port });
  }
  if (command.cmd === 'stats') {
    emit({
      event: 'stats',
      device: { ...device.stats() },
      peers: device.listPeers().map((p) => ({ publicKey: p.publicKey, stats: { ...p.stats } })),
      tun: packets.stats(),
    });
  }
});
process.stdin.on('end', () => {
  packets.close();
  process.exit(0);
});
afterInput();
