import {
  IpProtocol,
  Packet,
  computeIpv4HeaderChecksum,
  computeTransportChecksum,
  read16,
  setDstPort,
  setDstV4,
  setDstV6,
  setIcmpId,
  setSrcPort,
  setSrcV4,
  setSrcV6,
} from '../packet/index.js';

/**
 * Checks of packets against full checksum recomputation, shared by the unit tests (fixtures, fuzzing) and the
 * namespace tests (live captures). Each returns a list of problems, empty when all is well, so a failure names the
 * packet and the field.
 */

/** Compares every checksum present in a parsed packet with a full recomputation. */
export function checksumProblems(p: Packet, what = 'packet'): string[] {
  const problems: string[] = [];
  const buf = p.buffer;
  if (p.version === 4) {
    const carried = read16(buf, p.ipOffset + 10);
    const computed = computeIpv4HeaderChecksum(p);
    if (carried !== computed) problems.push(`${what}: IPv4 header checksum ${hex(carried)}, computed ${hex(computed)}`);
  }
  const computed = computeTransportChecksum(p);
  if (computed !== undefined) {
    const carried = read16(buf, p.transportChecksumOffset);
    const none = carried === 0 && p.version === 4 && p.protocol === IpProtocol.Udp; // RFC 768: no checksum
    if (carried !== computed && !none) {
      problems.push(`${what}: protocol ${p.protocol} checksum ${hex(carried)}, computed ${hex(computed)}`);
    }
  }
  return problems;
}

/** Same, for the packet and (for an ICMP error) the original it carries. */
export function allChecksumProblems(p: Packet, what = 'packet'): string[] {
  const problems = checksumProblems(p, what);
  if (p.isIcmpError) {
    const inner = p.embedded();
    if (typeof inner === 'string') problems.push(`${what}: embedded packet: ${inner}`);
    else problems.push(...checksumProblems(inner, `${what} (embedded)`));
  }
  return problems;
}

const V6_A = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
const V6_B = Uint8Array.from([0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);

/**
 * Rewrites a copy of `bytes` the way NAT does — both addresses, ports or echo id, and for an ICMP error the embedded
 * original's addresses and ports/id too — and checks every checksum against full recomputation afterwards. `variant`
 * picks different new values so checksum edge cases get exercised over many packets.
 */
export function rewriteProblems(bytes: Uint8Array, variant = 0, what = 'packet'): string[] {
  const copy = Uint8Array.from(bytes);
  const p = new Packet();
  const err = p.parse(copy);
  if (err) return [`${what}: ${err}`];
  const before = allChecksumProblems(p, what);
  if (before.length > 0) return before.map((b) => `before rewrite: ${b}`);
  rewriteAll(p, variant);
  if (p.isIcmpError) {
    const inner = p.embedded();
    if (typeof inner !== 'string') rewriteAll(inner, variant + 1);
  }
  // Re-parse from scratch: the rewrites must leave a packet that still parses and checks out in full.
  const again = new Packet();
  const err2 = again.parse(copy);
  if (err2) return [`${what}: after rewrite: ${err2}`];
  return allChecksumProblems(again, `${what} after rewrite`);
}

function rewriteAll(p: Packet, variant: number): void {
  const n = (variant * 2654435761) >>> 0;
  if (p.version === 4) {
    setSrcV4(p, (0xc6336400 + (n & 0xff)) >>> 0);
    setDstV4(p, (n ^ 0xcb007100) >>> 0);
  } else {
    V6_A[15] = n & 0xff;
    V6_B[14] = (n >>> 8) & 0xff;
    setSrcV6(p, V6_A);
    setDstV6(p, V6_B, 0);
  }
  if (!p.hasTransportHeader) return;
  if (p.protocol === IpProtocol.Tcp || p.protocol === IpProtocol.Udp) {
    setSrcPort(p, (n >>> 16) & 0xffff);
    setDstPort(p, n & 0xffff);
  } else if (p.isIcmpEcho) {
    setIcmpId(p, (n >>> 3) & 0xffff);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
