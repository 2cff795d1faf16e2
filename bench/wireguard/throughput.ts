/**
 * Micro-benchmark of the WireGuard data path on one core: encapsulate (IP packet → transport datagram) and
 * decapsulate (`handleDatagram` → IP packet) of 1420-byte IP packets through an established session, in process.
 *
 *   npx tsc -b && node dist/bench/wireguard/throughput.js [packets=200000] [size=1420]
 *
 * Prints packets/s and Gbit/s of IP payload for each direction (best of 3 rounds after a warm-up).
 */
import { ipv4Packet, testPair } from '../../tunnel/wireguard/testing.js';

const PACKETS = Number(process.argv[2] ?? 200_000);
const SIZE = Number(process.argv[3] ?? 1420);
const NOW = 1_700_000_000_000;

const { a, b } = testPair({ seed: 'bench', device: { mtu: 1420 } });
a.device.encapsulate(ipv4Packet('10.0.0.1', '10.0.0.2', 8), NOW);
for (let round = 0; round < 4; round++) {
  for (let t = a.device.pollTransmit(); t; t = a.device.pollTransmit()) b.device.handleDatagram(t.data, a.address, NOW);
  for (let t = b.device.pollTransmit(); t; t = b.device.pollTransmit()) a.device.handleDatagram(t.data, b.address, NOW);
}
if (!a.peer.hasSession || !b.peer.hasSession) throw new Error('no session');

const packet = ipv4Packet('10.0.0.1', '10.0.0.2', SIZE - 20);
/**
 * Datagrams are made and consumed in chunks, as a driver does with a batch from its socket: keeping all of them
 * alive would measure the garbage collector moving hundreds of megabytes instead of the data path.
 */
const CHUNK = 1024;
const chunk: Uint8Array[] = new Array(CHUNK);

function encapsulateChunk(): void {
  for (let i = 0; i < CHUNK; i++) {
    const result = a.device.encapsulate(packet, NOW);
    if (result.kind !== 'datagram') throw new Error(`encapsulate: ${result.kind}`);
    chunk[i] = result.data;
  }
}

function decapsulateChunk(): void {
  for (let i = 0; i < CHUNK; i++) {
    const result = b.device.handleDatagram(chunk[i]!, a.address, NOW);
    if (result.kind !== 'packet') throw new Error(`handleDatagram: ${JSON.stringify(result)}`);
  }
}

interface Timing {
  /** Wall-clock milliseconds. */
  wall: number;
  /** CPU milliseconds of this process (user + system, GC threads included): what one core did, however busy the
   * machine is with other work. */
  cpu: number;
}

/** Time spent encapsulating and decapsulating PACKETS packets. */
function round(): { encapsulate: Timing; decapsulate: Timing } {
  const encapsulate = { wall: 0, cpu: 0 };
  const decapsulate = { wall: 0, cpu: 0 };
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  for (let done = 0; done < PACKETS; done += CHUNK) {
    const start = performance.now();
    const startCpu = cpuMs();
    encapsulateChunk();
    const middle = performance.now();
    const middleCpu = cpuMs();
    decapsulateChunk();
    encapsulate.wall += middle - start;
    encapsulate.cpu += middleCpu - startCpu;
    decapsulate.wall += performance.now() - middle;
    decapsulate.cpu += cpuMs() - middleCpu;
  }
  return { encapsulate, decapsulate };
}

function report(name: string, packets: number, timing: Timing): void {
  const rate = (ms: number) => (packets / ms) * 1000;
  const format = (ms: number) =>
    `${Math.round(rate(ms)).toLocaleString('en-US').padStart(9)} packets/s (${((rate(ms) * SIZE * 8) / 1e9).toFixed(2)} Gbit/s)`;
  console.log(`${name.padEnd(12)} per CPU-second ${format(timing.cpu)}   wall clock ${format(timing.wall)}`);
}

round(); // warm-up
const best = { encapsulate: { wall: Infinity, cpu: Infinity }, decapsulate: { wall: Infinity, cpu: Infinity } };
for (let i = 0; i < 3; i++) {
  const timing = round();
  for (const way of ['encapsulate', 'decapsulate'] as const) {
    best[way].wall = Math.min(best[way].wall, timing[way].wall);
    best[way].cpu = Math.min(best[way].cpu, timing[way].cpu);
  }
}
const packets = Math.ceil(PACKETS / CHUNK) * CHUNK;
console.log(`${packets} packets of ${SIZE} bytes each way, best of 3 rounds, node ${process.version}`);
report('encapsulate', packets, best.encapsulate);
report('decapsulate', packets, best.decapsulate);
