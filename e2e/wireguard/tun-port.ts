/** Where the driver's tunnel packets go: a TUN device (once native/ provides one). */
export interface PacketPort {
  readonly name: string | undefined;
  write(packet: Uint8Array): void;
  stats(): Record<string, unknown> | undefined;
  close(): void;
}

export async function openTun(
  _options: { name: string; mtu: number; addresses: string[] },
  _onPackets: (batch: Uint8Array[]) => void,
): Promise<PacketPort> {
  throw new Error('the TUN addon (native/) is not on this branch yet');
}
