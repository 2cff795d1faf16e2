/** The driver's TUN device, from the project's addon (native/). */
import { TunDevice } from '../../native/index.js';
import { run } from '../netns/index.js';

/** Where the driver's tunnel packets go. */
export interface PacketPort {
  readonly name: string | undefined;
  write(packet: Uint8Array): void;
  stats(): Record<string, unknown> | undefined;
  close(): void;
}

/** Opens a TUN device in the driver's namespace, gives it its addresses and hands each batch read to `onPackets`. */
export async function openTun(
  options: { name: string; mtu: number; addresses: string[] },
  onPackets: (batch: Uint8Array[]) => void,
): Promise<PacketPort> {
  const tun = TunDevice.open({ name: options.name, mtu: options.mtu });
  for (const address of options.addresses) {
    // `nodad`: IPv6 addresses are usable at once instead of after duplicate address detection.
    await run('ip', ['addr', 'add', address, 'dev', tun.name, ...(address.includes(':') ? ['nodad'] : [])]);
  }
  tun.onError((error) => {
    console.error(`TUN ${tun.name}: ${error.message}`);
    process.exit(1);
  });
  tun.onPackets(onPackets);
  return {
    name: tun.name,
    write: (packet) => void tun.writePacket(packet),
    stats: () => ({ ...tun.stats() }),
    close: () => tun.close(),
  };
}
