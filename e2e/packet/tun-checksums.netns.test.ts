import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TunDevice } from '../../native/index.js';
import {
  IpProtocol,
  Packet,
  TcpFlag,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  ipv4Key,
  parseAddress,
  setDstPort,
  setDstV4,
  setDstV6,
  setSrcPort,
  setSrcV4,
  setSrcV6,
} from '../../tunnel/packet/index.js';
import { checksumProblems } from '../../tunnel/testing/checksums.js';
import { Namespace, netnsUnavailableReason, run, type BackgroundProcess } from '../netns/index.js';

// Checksums against the kernel: packets built or NAT-rewritten by tunnel/packet are written into a real TUN device in
// a test namespace. Good ones are delivered (a UDP socket receives them, the kernel answers pings and SYNs, ICMP
// errors — also ones NAT-rewritten outside and inside — reach the socket that caused them); a corrupted checksum is
// dropped and counted in the namespace's InCsumErrors. The kernel's own answers, read back from the TUN, are parsed
// and checked too. The TUN is created here and moved into the namespace, as in e2e/native.

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/packet TUN tests: ${skip}`);

const LOCAL4 = '10.78.0.1';
const PEER4 = '10.78.0.2';
const LOCAL6 = 'fd78::1';
const PEER6 = 'fd78::2';
const UDP_PORT = 5000;
const TCP_PORT = 5001;

const FAMILIES = [
  { v: 4, local: parseAddress(LOCAL4)!, peer: parseAddress(PEER4)!, peerText: PEER4 },
  { v: 6, local: parseAddress(LOCAL6)!, peer: parseAddress(PEER6)!, peerText: PEER6 },
] as const;

describe.skipIf(skip)('tunnel/packet through a real TUN device', () => {
  let ns: Namespace;
  let tun: TunDevice;
  let listener: BackgroundProcess;
  /** Packets the kernel sent into the TUN, and handlers that answer some of them. */
  const received: Uint8Array[] = [];
  const responders: Array<(p: Packet) => void> = [];

  beforeAll(async () => {
    ns = await Namespace.create('ptun');
    tun = TunDevice.open({ name: `pt${randomBytes(4).toString('hex')}`, mtu: 1400 });
    await run('ip', ['link', 'set', tun.name, 'netns', ns.name]);
    await ns.exec('ip', ['addr', 'add', `${LOCAL4}/24`, 'dev', tun.name]);
    await ns.exec('ip', ['addr', 'add', `${LOCAL6}/64`, 'dev', tun.name, 'nodad']);
    await ns.exec('ip', ['link', 'set', tun.name, 'up']);
    const view = new Packet();
    tun.onPackets((batch) => {
      for (const packet of batch) {
        received.push(Uint8Array.from(packet));
        if (view.parse(packet) === undefined) for (const respond of responders) respond(view);
      }
    });
    // Prints every UDP datagram it gets, and accepts TCP connections (so SYNs get SYN-ACKs).
    listener = ns.spawn('listener', process.execPath, [
      '-e',
      `const dgram = require('node:dgram');
       const s = dgram.createSocket({ type: 'udp6', ipv6Only: false });
       s.on('message', (m) => console.log('got ' + m));
       s.bind(${UDP_PORT}, '::', () => {
         require('node:net').createServer((c) => c.destroy()).listen(${TCP_PORT}, '::', () => console.log('ready'));
       });`,
    ]);
    await listener.waitForOutput(/ready/);
  });

  afterAll(async () => {
    await listener?.kill();
    tun?.close();
    await ns?.destroy();
  });

  /** The namespace's checksum error counters, e.g. `Udp.InCsumErrors`, `Icmp6InCsumErrors`, `IpExt.InCsumErrors`. */
  async function counters(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const { stdout } = await ns.exec('cat', ['/proc/net/snmp', '/proc/net/netstat', '/proc/net/snmp6']);
    const lines = stdout.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const [name, ...fields] = lines[i]!.trim().split(/\s+/);
      if (!name) continue;
      if (name.endsWith(':')) {
        // Header and value lines come in pairs: "Udp: InDatagrams …" then "Udp: 12 …".
        const values = lines[++i]!.trim().split(/\s+/).slice(1);
        fields.forEach((field, j) => out.set(`${name.slice(0, -1)}.${field}`, Number(values[j])));
      } else out.set(name, Number(fields[0]));
    }
    return out;
  }

  async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Writes a packet with a corrupted checksum and waits until the kernel counts it in `counter`. */
  async function expectDropped(packet: Uint8Array, counter: string): Promise<void> {
    const before = (await counters()).get(counter);
    expect(before, counter).toBeTypeOf('number');
    expect(tun.writePacket(packet)).toBe(true);
    await waitFor(`${counter} to rise`, async () => ((await counters()).get(counter)! > before! ? true : undefined));
  }

  it('delivers UDP built and NAT-rewritten here, and drops it with a corrupted checksum', async () => {
    for (const { v, local, peer } of FAMILIES) {
      const spec = { src: peer, dst: local, srcPort: 4000, dstPort: UDP_PORT };
      expect(tun.writePacket(buildUdp({ ...spec, payload: Buffer.from(`built-v${v}`) }))).toBe(true);
      await listener.waitForOutput(new RegExp(`got built-v${v}`));

      // A packet between other hosts and ports, NATed to this namespace's socket: checksums fixed incrementally.
      const [otherSrc, otherDst] = v === 4 ? ['192.0.2.5', '198.51.100.9'] : ['2001:db8::5', '2001:db8::9'];
      const packet = buildUdp({
        src: parseAddress(otherSrc)!,
        dst: parseAddress(otherDst)!,
        srcPort: 1,
        dstPort: 2,
        payload: Buffer.from(`rewritten-v${v}`),
      });
      const p = new Packet();
      expect(p.parse(packet)).toBeUndefined();
      setSrc(p, peer);
      setDst(p, local);
      setSrcPort(p, 4001);
      setDstPort(p, UDP_PORT);
      expect(tun.writePacket(packet)).toBe(true);
      await listener.waitForOutput(new RegExp(`got rewritten-v${v}`));

      const corrupt = buildUdp({ ...spec, payload: Buffer.from(`corrupt-v${v}`) });
      corrupt[corrupt.length - 1]! ^= 0x20;
      await expectDropped(corrupt, v === 4 ? 'Udp.InCsumErrors' : 'Udp6InCsumErrors');
    }
    expect(listener.text).not.toMatch(/corrupt/i);
  });

  it('gets the kernel’s echo replies and SYN-ACKs for packets built here, with checksums that check out', async () => {
    for (const { v, local, peer } of FAMILIES) {
      const id = 0x4000 + v;
      expect(tun.writePacket(buildIcmpEcho({ src: peer, dst: local, id, seq: 1, payload: Buffer.from('ping') }))).toBe(
        true,
      );
      const reply = await waitFor(`IPv${v} echo reply`, () => findParsed((q) => q.isIcmpEcho && q.icmpId === id));
      expect([reply.icmpType, reply.icmpSeq, reply.payloadLength]).toEqual([v === 4 ? 0 : 129, 1, 4]);
      expect(checksumProblems(reply)).toEqual([]);

      const seq = 0x12345678;
      const srcPort = 40000 + v;
      const syn = { src: peer, dst: local, srcPort, dstPort: TCP_PORT, seq, ack: 0, flags: TcpFlag.SYN, window: 8192 };
      expect(tun.writePacket(buildTcp(syn))).toBe(true);
      const synAck = await waitFor(`IPv${v} SYN-ACK`, () =>
        findParsed((q) => q.protocol === IpProtocol.Tcp && q.dstPort === srcPort),
      );
      expect([synAck.tcpFlags, synAck.tcpAck, synAck.srcPort]).toEqual([TcpFlag.SYN | TcpFlag.ACK, seq + 1, TCP_PORT]);
      expect(checksumProblems(synAck)).toEqual([]);
      // Tell the kernel to forget the half-open connection.
      tun.writePacket(buildTcp({ ...syn, seq: seq + 1, flags: TcpFlag.RST }));

      const badEcho = buildIcmpEcho({ src: peer, dst: local, id: id + 1, seq: 1 });
      badEcho[badEcho.length - 3]! ^= 0x01; // the id
      await expectDropped(badEcho, v === 4 ? 'Icmp.InCsumErrors' : 'Icmp6InCsumErrors');
      const badSyn = buildTcp({ ...syn, srcPort: srcPort + 10 });
      badSyn[badSyn.length - 1]! ^= 0x01; // the urgent pointer
      await expectDropped(badSyn, 'Tcp.InCsumErrors');
    }
    const badHeader = buildUdp({
      src: FAMILIES[0].peer,
      dst: FAMILIES[0].local,
      srcPort: 1,
      dstPort: 2,
      payload: new Uint8Array(4),
    });
    badHeader[8]! ^= 0x01; // the TTL, under the IPv4 header checksum
    await expectDropped(badHeader, 'IpExt.InCsumErrors');
  });

  it('ICMP errors built here, and NAT-rewritten inside, reach the socket that caused them', async () => {
    // TCP to port 80: administratively prohibited, built straight about the SYN.
    responders.push((p) => {
      if (p.protocol !== IpProtocol.Tcp || p.dstPort !== 80) return;
      const error = buildIcmpError(p, { src: p.dstAddress(), kind: 'admin-prohibited' });
      if (typeof error !== 'string') tun.writePacket(error);
    });
    // UDP to port 53: the way the gateway sees it. The query is NATed to other addresses and a port, the error comes
    // back about that translated query, and the reverse translation rewrites the error and the original inside it.
    responders.push((p) => {
      if (p.protocol !== IpProtocol.Udp || p.dstPort !== 53) return;
      // Copies: the TUN hands out Buffers, whose slice() is a view, not a copy.
      const [client, server, clientPort] = [
        Uint8Array.from(p.srcAddress()),
        Uint8Array.from(p.dstAddress()),
        p.srcPort,
      ];
      const v4 = p.version === 4;
      const [egress, real] = (v4 ? ['192.0.2.1', '198.51.100.53'] : ['2001:db8::1', '2001:db8::53']).map((text) =>
        parseAddress(text)!,
      );
      const translated = new Packet();
      translated.parse(Uint8Array.from(p.buffer.subarray(p.ipOffset, p.end)));
      setSrc(translated, egress!);
      setDst(translated, real!);
      setSrcPort(translated, 33333);
      const bytes = buildIcmpError(translated, { src: real!, kind: 'port-unreachable' });
      if (typeof bytes === 'string') return;
      const error = new Packet();
      error.parse(bytes);
      const original = error.embedded();
      if (typeof original === 'string') return;
      setSrc(original, client);
      setDst(original, server);
      setSrcPort(original, clientPort);
      setSrc(error, server);
      setDst(error, client);
      tun.writePacket(bytes);
    });
    for (const { v, peerText } of FAMILIES) {
      const started = Date.now();
      const dig = await ns.exec('dig', [`@${peerText}`, 'example.test', '+tries=1', '+time=5'], { allowFailure: true });
      expect(dig.stdout + dig.stderr, `IPv${v} dig`).toMatch(/connection refused/);
      const host = v === 4 ? peerText : `[${peerText}]`;
      const curl = await ns.exec('curl', ['-sS', '--max-time', '5', `http://${host}/`], { allowFailure: true });
      expect(curl.code, `IPv${v} curl`).not.toBe(0);
      expect(curl.stderr, `IPv${v} curl`).not.toMatch(/timed out/i);
      // Both give up on the ICMP error at once, not after their 5 s timeouts.
      expect(Date.now() - started).toBeLessThan(4000);
    }
  });

  function setSrc(p: Packet, address: Uint8Array): void {
    if (address.length === 4) setSrcV4(p, ipv4Key(address));
    else setSrcV6(p, address);
  }

  function setDst(p: Packet, address: Uint8Array): void {
    if (address.length === 4) setDstV4(p, ipv4Key(address));
    else setDstV6(p, address);
  }

  function findParsed(match: (p: Packet) => boolean): Packet | undefined {
    for (const bytes of received) {
      const p = new Packet();
      if (p.parse(bytes) === undefined && match(p)) return p;
    }
    return undefined;
  }
});
