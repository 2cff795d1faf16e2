import {
  IpProtocol,
  Packet,
  TcpFlag,
  addressKey,
  parseAddress,
  type AddressKey,
  type PacketError,
} from '../packet/index.js';
import { allChecksumProblems, rewriteProblems } from './checksums.js';
import { Reassembler } from './reassemble.js';

/**
 * The capture of real traffic that checks the packet layer: e2e/packet/capture.netns.test.ts makes it live (client,
 * router and server namespaces; ping, dig, curl, a closed port, nftables rejects, MLD) and the unit tests check the
 * committed copy in tunnel/packet/fixtures/. Both check it with `captureProblems`.
 */
export const CAPTURE = {
  client4: '10.91.1.1',
  router4: '10.91.1.2',
  routerFar4: '10.91.2.1',
  server4: '10.91.2.2',
  client6: 'fd91:1::1',
  router6: 'fd91:1::2',
  routerFar6: 'fd91:2::1',
  server6: 'fd91:2::2',
  /** Added to the client during the capture: joining its solicited-node group sends an MLD report with Hop-by-Hop. */
  extra6: 'fd91:1::99',
  /** MTU of the router–server link (the client's is 1500), so big packets draw "fragmentation needed"/"too big". */
  farMtu: 1280,
  httpPort: 8080,
  /** nftables on the server rejects TCP to this port with ICMP "administratively prohibited". */
  prohibitedPort: 8081,
  /** Nothing listens on this UDP port on the server: ICMP port unreachable. */
  closedPort: 9,
  dnsName: 'svc.test',
} as const;

const key = (text: string): AddressKey => addressKey(parseAddress(text)!);
const K = {
  client4: key(CAPTURE.client4),
  router4: key(CAPTURE.router4),
  server4: key(CAPTURE.server4),
  client6: key(CAPTURE.client6),
  router6: key(CAPTURE.router6),
  server6: key(CAPTURE.server6),
};
const DNS_NAME = wireName(CAPTURE.dnsName);

interface Fact {
  what: string;
  /** `inner` is the original carried by an ICMP error, parsed. */
  holds(p: Packet, inner: Packet | undefined): boolean;
}

const between = (p: Packet, src: AddressKey, dst: AddressKey) => p.srcKey() === src && p.dstKey() === dst;
const icmp = (p: Packet, type: number, code?: number) =>
  p.hasTransportHeader &&
  p.protocol === (p.version === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6) &&
  p.icmpType === type &&
  (code === undefined || p.icmpCode === code);
const tcp = (p: Packet, flags: number) => p.protocol === IpProtocol.Tcp && p.hasTransportHeader && p.tcpFlags === flags;
const startsWith = (p: Packet, text: string) =>
  Buffer.from(p.buffer.subarray(p.payloadOffset, p.payloadOffset + text.length)).toString('latin1') === text;
const hasDnsName = (p: Packet) =>
  Buffer.from(p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)).includes(DNS_NAME);

function familyFacts(v: 4 | 6): Fact[] {
  const [client, router, server] = v === 4 ? [K.client4, K.router4, K.server4] : [K.client6, K.router6, K.server6];
  const [echoRequest, echoReply, timeExceeded] = v === 4 ? [8, 0, 11] : [128, 129, 3];
  const unreachable = v === 4 ? 3 : 1;
  const [portCode, adminCode] = v === 4 ? [3, 13] : [4, 1];
  const request = (p: Packet | undefined) => !!p && icmp(p, echoRequest) && between(p, client, server);
  const ipv = `IPv${v}`;
  return [
    { what: `${ipv} echo request client→server`, holds: (p) => request(p) && !p.isFragment },
    {
      what: `${ipv} echo reply server→client, TTL lowered by the router`,
      holds: (p) => icmp(p, echoReply) && between(p, server, client) && p.ttl === 63,
    },
    {
      what: `${ipv} time exceeded from the router carrying the echo request`,
      holds: (p, inner) => icmp(p, timeExceeded, 0) && between(p, router, client) && request(inner),
    },
    {
      what: `${ipv} ${v === 4 ? 'fragmentation needed' : 'packet too big'} (MTU ${CAPTURE.farMtu}) from the router`,
      holds: (p, inner) =>
        (v === 4 ? icmp(p, 3, 4) : icmp(p, 2, 0)) &&
        between(p, router, client) &&
        p.icmpMtu === CAPTURE.farMtu &&
        request(inner),
    },
    {
      what: `${ipv} first fragment of an echo request (transport header parsed)`,
      holds: (p) => request(p) && p.isFragment && p.fragmentOffset === 0 && p.moreFragments,
    },
    {
      what: `${ipv} later fragment (no transport header)`,
      holds: (p) =>
        p.isFragment &&
        p.fragmentOffset > 0 &&
        !p.hasTransportHeader &&
        p.protocol === (v === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6),
    },
    {
      what: `${ipv} DNS query over UDP`,
      holds: (p) => p.protocol === IpProtocol.Udp && between(p, client, server) && p.dstPort === 53 && hasDnsName(p),
    },
    {
      what: `${ipv} DNS answer over UDP`,
      holds: (p) => p.protocol === IpProtocol.Udp && between(p, server, client) && p.srcPort === 53 && hasDnsName(p),
    },
    {
      what: `${ipv} TCP SYN with options to the DNS server`,
      holds: (p) =>
        tcp(p, TcpFlag.SYN) &&
        p.dstPort === 53 &&
        p.tcpHeaderLength > 20 &&
        p.payloadOffset === p.transportOffset + p.tcpHeaderLength,
    },
    {
      what: `${ipv} TCP SYN-ACK from the DNS server`,
      holds: (p) => tcp(p, TcpFlag.SYN | TcpFlag.ACK) && p.srcPort === 53,
    },
    {
      what: `${ipv} DNS query over TCP`,
      holds: (p) =>
        tcp(p, TcpFlag.PSH | TcpFlag.ACK) && between(p, client, server) && p.dstPort === 53 && hasDnsName(p),
    },
    {
      what: `${ipv} TCP FIN to the DNS server`,
      holds: (p) => p.protocol === IpProtocol.Tcp && (p.tcpFlags & TcpFlag.FIN) !== 0 && p.dstPort === 53,
    },
    {
      what: `${ipv} HTTP request`,
      holds: (p) => p.protocol === IpProtocol.Tcp && p.dstPort === CAPTURE.httpPort && startsWith(p, 'GET / HTTP/1.1'),
    },
    {
      what: `${ipv} HTTP response`,
      holds: (p) => p.protocol === IpProtocol.Tcp && p.srcPort === CAPTURE.httpPort && startsWith(p, 'HTTP/1.1 200'),
    },
    {
      what: `${ipv} port unreachable from the server carrying the UDP datagram`,
      holds: (p, inner) =>
        icmp(p, unreachable, portCode) &&
        between(p, server, client) &&
        !!inner &&
        inner.protocol === IpProtocol.Udp &&
        between(inner, client, server) &&
        inner.dstPort === CAPTURE.closedPort &&
        !inner.truncated,
    },
    {
      what: `${ipv} administratively prohibited from the server carrying the TCP SYN`,
      holds: (p, inner) =>
        icmp(p, unreachable, adminCode) &&
        between(p, server, client) &&
        !!inner &&
        inner.transportHeaderComplete &&
        tcp(inner, TcpFlag.SYN) &&
        inner.dstPort === CAPTURE.prohibitedPort,
    },
  ];
}

const FACTS: Fact[] = [
  ...familyFacts(4),
  ...familyFacts(6),
  {
    what: 'IPv6 MLDv2 report behind a Hop-by-Hop header',
    holds: (p) =>
      p.version === 6 && p.buffer[p.ipOffset + 6] === IpProtocol.HopByHop && icmp(p, 143) && p.transportOffset > 40,
  },
];

/**
 * Everything wrong with a capture: packets that do not parse, checksums that differ from full recomputation (fragments
 * reassembled first), rewrites whose incremental checksums differ from full recomputation, and facts of the capture
 * plan no packet shows. Empty when all is well.
 */
export function captureProblems(packets: readonly Uint8Array[]): string[] {
  const problems: string[] = [];
  const seen = new Set<Fact>();
  const reassembler = new Reassembler();
  const p = new Packet();
  const whole = new Packet();
  let fragments = 0;
  let reassembled = 0;
  for (const [i, bytes] of packets.entries()) {
    const what = `packet ${i + 1}`;
    const err: PacketError | undefined = p.parse(bytes);
    if (err) {
      problems.push(`${what}: ${err}`);
      continue;
    }
    problems.push(...allChecksumProblems(p, what), ...rewriteProblems(bytes, i, what));
    if (p.isFragment) {
      fragments++;
      const datagram = reassembler.add(p);
      if (datagram && !whole.parse(datagram)) {
        reassembled++;
        problems.push(...allChecksumProblems(whole, `${what} (reassembled)`));
      }
    }
    const inner = p.isIcmpError ? p.embedded() : undefined;
    const innerView = typeof inner === 'string' ? undefined : inner;
    for (const fact of FACTS) if (!seen.has(fact) && fact.holds(p, innerView)) seen.add(fact);
  }
  if (fragments > 0 && reassembled === 0) problems.push(`${fragments} fragments, but no datagram reassembled`);
  for (const fact of FACTS) if (!seen.has(fact)) problems.push(`no packet shows: ${fact.what}`);
  return problems;
}

/** A DNS name in wire format (length-prefixed labels). */
function wireName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.from([l.length, ...Buffer.from(l)])), Buffer.from([0])]);
}
