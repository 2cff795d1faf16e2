import { createInterface } from 'node:readline';
import { TunDevice } from '../../native/index.js';

/**
 * Run inside a test's namespace (`node dist/e2e/gateway/tun-relay.js NAME`): opens a TUN device there and relays
 * packets as hex lines — what the kernel sends into the TUN comes out on stdout as `pkt HEX`, and every line on stdin
 * is written into the TUN for the kernel to receive. Lets a test put packets in front of a real kernel.
 */
const tun = TunDevice.open({ name: process.argv[2] ?? 'ptr%d', mtu: 1500 });
tun.onPackets((packets) => {
  for (const packet of packets) process.stdout.write(`pkt ${packet.toString('hex')}\n`);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim()) tun.write([Buffer.from(line.trim(), 'hex')]);
});
process.stdin.on('end', () => {
  tun.close();
  process.exit(0);
});
process.stdout.write(`ready ${tun.name}\n`);
